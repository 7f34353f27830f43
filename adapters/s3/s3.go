package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/humanos/human/errs"
)

// Options configure a [Bucket]. The zero value (or nil) stores keys at the
// bucket's root with no object lock.
type Options struct {
	// Prefix is prepended to every key ("" or a path ending in "/" is
	// added as is; otherwise a "/" is added), so several deployments can
	// share one bucket.
	Prefix string
	// Retention, when positive, puts every immutable ledger object (batch,
	// entry, node) under S3 Object Lock in COMPLIANCE mode until now +
	// Retention: nobody, the root account included, can delete or
	// overwrite it before then. The bucket must have been created with
	// Object Lock enabled.
	Retention time.Duration
}

// Bucket is one S3 bucket (and key prefix) holding HUMAN stores. It is
// safe for concurrent use.
type Bucket struct {
	client    *awss3.Client
	bucket    string
	prefix    string
	retention time.Duration
	now       func() time.Time
}

// Open returns the Bucket named bucket reached through client. It does
// not contact S3. An empty bucket name, a nil client or a negative
// retention is errs.ErrInvalidArgument.
func Open(client *awss3.Client, bucket string, opts *Options) (*Bucket, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if client == nil || bucket == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "s3: nil client or empty bucket name")
	}
	if o.Retention < 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "s3: negative retention %v", o.Retention)
	}
	p := o.Prefix
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return &Bucket{client: client, bucket: bucket, prefix: p, retention: o.Retention, now: time.Now}, nil
}

// segment escapes an org or log name into one key segment: every byte
// outside [A-Za-z0-9_-] becomes %XX, so no name contains "/" or is "." or
// "..", and two names never share a key.
func segment(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// object is what get returns: the body and the ETag for a later If-Match.
type object struct {
	body []byte
	etag string
}

// get reads key; errs.ErrNotFound when it does not exist.
func (b *Bucket) get(ctx context.Context, key string) (object, error) {
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)})
	if err != nil {
		return object{}, mapError(ctx, "get "+key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return object{}, mapError(ctx, "read "+key, err)
	}
	return object{body: body, etag: aws.ToString(out.ETag)}, nil
}

// exists reports whether key exists (HEAD).
func (b *Bucket) exists(ctx context.Context, key string) (bool, error) {
	_, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)})
	if err == nil {
		return true, nil
	}
	if err = mapError(ctx, "head "+key, err); errors.Is(err, errs.ErrNotFound) {
		return false, nil
	}
	return false, err
}

// putMode says how put conditions a write.
type putMode int

const (
	putAlways    putMode = iota // unconditional
	putCreate                   // If-None-Match: *: errs.ErrConflict if the key exists
	putReplace                  // If-Match: etag: errs.ErrConflict if the object changed
	putImmutable                // putCreate, plus Object Lock retention when configured
)

// put writes body at key under mode; etag is the If-Match value for
// putReplace.
func (b *Bucket) put(ctx context.Context, key string, body []byte, mode putMode, etag string) error {
	in := &awss3.PutObjectInput{
		Bucket:        &b.bucket,
		Key:           aws.String(b.prefix + key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	switch mode {
	case putCreate, putImmutable:
		in.IfNoneMatch = aws.String("*")
	case putReplace:
		in.IfMatch = aws.String(etag)
	}
	if mode == putImmutable && b.retention > 0 {
		in.ObjectLockMode = types.ObjectLockModeCompliance
		in.ObjectLockRetainUntilDate = aws.Time(b.now().Add(b.retention).UTC())
	}
	_, err := b.client.PutObject(ctx, in)
	return mapError(ctx, "put "+key, err)
}

// mapError is the one place S3 errors become the shared vocabulary: a
// failed precondition of a conditional write (412, or 409 for a
// concurrent conditional write) is errs.ErrConflict, a missing key or
// bucket errs.ErrNotFound, 403 errs.ErrPermissionDenied, 401 and signature
// errors errs.ErrUnauthenticated, 400 errs.ErrInvalidArgument, and
// anything else (network, 5xx, throttling) errs.ErrUnavailable. A
// cancelled ctx is errs.ErrUnavailable wrapping ctx.Err().
func mapError(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ce := ctx.Err(); ce != nil {
		return errs.Errorf(errs.ErrUnavailable, "s3: %s: %w", what, ce)
	}
	var nsk *types.NoSuchKey
	var nsb *types.NoSuchBucket
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nsb) || errors.As(err, &nf) {
		return errs.Errorf(errs.ErrNotFound, "s3: %s: %v", what, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return errs.Errorf(errs.ErrConflict, "s3: %s: %v", what, err)
		case "NoSuchKey", "NoSuchBucket", "NotFound":
			return errs.Errorf(errs.ErrNotFound, "s3: %s: %v", what, err)
		case "AccessDenied", "AllAccessDisabled":
			return errs.Errorf(errs.ErrPermissionDenied, "s3: %s: %v", what, err)
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
			return errs.Errorf(errs.ErrUnauthenticated, "s3: %s: %v", what, err)
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusPreconditionFailed, http.StatusConflict:
			return errs.Errorf(errs.ErrConflict, "s3: %s: %v", what, err)
		case http.StatusNotFound:
			return errs.Errorf(errs.ErrNotFound, "s3: %s: %v", what, err)
		case http.StatusForbidden:
			return errs.Errorf(errs.ErrPermissionDenied, "s3: %s: %v", what, err)
		case http.StatusUnauthorized:
			return errs.Errorf(errs.ErrUnauthenticated, "s3: %s: %v", what, err)
		case http.StatusBadRequest:
			return errs.Errorf(errs.ErrInvalidArgument, "s3: %s: %v", what, err)
		}
	}
	return errs.Errorf(errs.ErrUnavailable, "s3: %s: %v", what, err)
}

// ctxErr is the contract's answer to a cancelled context before any work.
func ctxErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "s3: %s: %w", what, err)
	}
	return nil
}
