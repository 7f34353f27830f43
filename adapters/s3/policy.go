package s3

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

// PolicyStore keeps each org's policy versions as immutable objects
//
//	PREFIX policy/ORG/v/NNNNNNNNNN   (the document, written with If-None-Match: *)
//	PREFIX policy/ORG/active         (the active version number, CAS with If-Match)
//
// so two processes publishing or activating at once never overwrite each
// other: S3's conditional writes are the compare-and-swap.
type PolicyStore struct{ b *Bucket }

var _ policy.Store = (*PolicyStore)(nil)

// PolicyStore returns the policy store of the bucket.
func (b *Bucket) PolicyStore() *PolicyStore { return &PolicyStore{b: b} }

// versionWidth zero-pads version numbers so that key order is numeric order.
const versionWidth = 10

func policyVersionKey(org string, n int) string {
	return fmt.Sprintf("policy/%s/v/%0*d", segment(org), versionWidth, n)
}

func policyActiveKey(org string) string { return "policy/" + segment(org) + "/active" }

func policyCheck(ctx context.Context, what, org string, n int, checkN bool) error {
	if err := ctxErr(ctx, what); err != nil {
		return err
	}
	if org == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "s3: %s: empty org", what)
	}
	if checkN && (n < 1 || n > 9_999_999_999) {
		return errs.Errorf(errs.ErrInvalidArgument, "s3: %s: version %d out of range", what, n)
	}
	return nil
}

// PutVersion implements [policy.Store].
func (s *PolicyStore) PutVersion(ctx context.Context, org string, n int, doc []byte) error {
	if err := policyCheck(ctx, "policy put version", org, n, true); err != nil {
		return err
	}
	err := s.b.put(ctx, policyVersionKey(org, n), doc, putCreate, "")
	if errors.Is(err, errs.ErrConflict) {
		return errs.Errorf(errs.ErrConflict, "s3: policy version %d of %q already exists", n, org)
	}
	return err
}

// Version implements [policy.Store].
func (s *PolicyStore) Version(ctx context.Context, org string, n int) ([]byte, error) {
	if err := policyCheck(ctx, "policy version", org, n, true); err != nil {
		return nil, err
	}
	o, err := s.b.get(ctx, policyVersionKey(org, n))
	return o.body, err
}

// Latest implements [policy.Store]: it lists the org's version keys, which
// sort numerically.
func (s *PolicyStore) Latest(ctx context.Context, org string) (int, error) {
	if err := policyCheck(ctx, "policy latest", org, 0, false); err != nil {
		return 0, err
	}
	prefix := s.b.prefix + "policy/" + segment(org) + "/v/"
	p := awss3.NewListObjectsV2Paginator(s.b.client, &awss3.ListObjectsV2Input{Bucket: &s.b.bucket, Prefix: &prefix})
	latest := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, mapError(ctx, "policy latest", err)
		}
		for _, o := range page.Contents {
			n, err := strconv.Atoi(strings.TrimPrefix(aws.ToString(o.Key), prefix))
			if err == nil && n > latest {
				latest = n
			}
		}
	}
	return latest, nil
}

// SetActive implements [policy.Store] with a conditional write of the
// active pointer: If-None-Match: * when none is active, else If-Match on
// the ETag of the pointer whose content was checked against expected.
func (s *PolicyStore) SetActive(ctx context.Context, org string, n, expected int) error {
	if err := policyCheck(ctx, "policy set active", org, n, true); err != nil {
		return err
	}
	if expected < 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "s3: policy set active: expected %d is negative", expected)
	}
	ok, err := s.b.exists(ctx, policyVersionKey(org, n))
	if err != nil {
		return err
	}
	if !ok {
		return errs.Errorf(errs.ErrNotFound, "s3: policy version %d of %q does not exist", n, org)
	}
	cur, etag, err := s.active(ctx, org)
	if err != nil {
		return err
	}
	if cur != expected {
		return errs.Errorf(errs.ErrConflict, "s3: active policy of %q is %d, not %d", org, cur, expected)
	}
	body := []byte(strconv.Itoa(n))
	if etag == "" {
		err = s.b.put(ctx, policyActiveKey(org), body, putCreate, "")
	} else {
		err = s.b.put(ctx, policyActiveKey(org), body, putReplace, etag)
	}
	if errors.Is(err, errs.ErrConflict) {
		return errs.Errorf(errs.ErrConflict, "s3: active policy of %q changed concurrently", org)
	}
	return err
}

// active reads the active pointer: (0, "", nil) when there is none.
func (s *PolicyStore) active(ctx context.Context, org string) (int, string, error) {
	o, err := s.b.get(ctx, policyActiveKey(org))
	if errors.Is(err, errs.ErrNotFound) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	n, perr := strconv.Atoi(string(o.body))
	if perr != nil || n < 1 {
		return 0, "", errs.Errorf(errs.ErrFailedPrecondition, "s3: active pointer of %q holds %q", org, o.body)
	}
	return n, o.etag, nil
}

// Active implements [policy.Store].
func (s *PolicyStore) Active(ctx context.Context, org string) (int, []byte, error) {
	if err := policyCheck(ctx, "policy active", org, 0, false); err != nil {
		return 0, nil, err
	}
	n, _, err := s.active(ctx, org)
	if err != nil {
		return 0, nil, err
	}
	if n == 0 {
		return 0, nil, errs.Errorf(errs.ErrNotFound, "s3: %q has no active policy", org)
	}
	doc, err := s.Version(ctx, org, n)
	if err != nil {
		return 0, nil, err
	}
	return n, doc, nil
}
