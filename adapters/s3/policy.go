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
//	PREFIX policy/ORG/act/NNNNNNNNNN (activation records; see SetActive)
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

// SetActive implements [policy.Store]. The active version is a chain of
// immutable activation records
//
//	PREFIX policy/ORG/act/NNNNNNNNNN   (version number; written with If-None-Match: *)
//
// and the active version is the one in the highest record. Activating
// writes record k+1 after checking that record k holds expected: two
// writers that both read record k race for the same key k+1 and exactly one
// create succeeds. Create-only writes are the conditional write every S3
// implementation makes atomic (If-Match on a mutable pointer is not atomic
// on some S3-compatible servers), so this is a true compare-and-swap.
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
	seq, cur, err := s.active(ctx, org)
	if err != nil {
		return err
	}
	if cur != expected {
		return errs.Errorf(errs.ErrConflict, "s3: active policy of %q is %d, not %d", org, cur, expected)
	}
	err = s.b.put(ctx, policyActivationKey(org, seq+1), []byte(strconv.Itoa(n)), putCreate, "")
	if errors.Is(err, errs.ErrConflict) {
		return errs.Errorf(errs.ErrConflict, "s3: active policy of %q changed concurrently", org)
	}
	return err
}

func policyActivationKey(org string, seq int) string {
	return fmt.Sprintf("policy/%s/act/%0*d", segment(org), versionWidth, seq)
}

// active finds the highest activation record: (0, 0, nil) when there is
// none. It lists the org's activation keys, which sort numerically.
func (s *PolicyStore) active(ctx context.Context, org string) (seq, n int, err error) {
	prefix := s.b.prefix + "policy/" + segment(org) + "/act/"
	p := awss3.NewListObjectsV2Paginator(s.b.client, &awss3.ListObjectsV2Input{Bucket: &s.b.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, 0, mapError(ctx, "policy active", err)
		}
		for _, o := range page.Contents {
			k, err := strconv.Atoi(strings.TrimPrefix(aws.ToString(o.Key), prefix))
			if err == nil && k > seq {
				seq = k
			}
		}
	}
	if seq == 0 {
		return 0, 0, nil
	}
	o, err := s.b.get(ctx, policyActivationKey(org, seq))
	if err != nil {
		return 0, 0, err
	}
	n, perr := strconv.Atoi(string(o.body))
	if perr != nil || n < 1 {
		return 0, 0, errs.Errorf(errs.ErrFailedPrecondition, "s3: activation record %d of %q holds %q", seq, org, o.body)
	}
	return seq, n, nil
}

// Active implements [policy.Store].
func (s *PolicyStore) Active(ctx context.Context, org string) (int, []byte, error) {
	if err := policyCheck(ctx, "policy active", org, 0, false); err != nil {
		return 0, nil, err
	}
	_, n, err := s.active(ctx, org)
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
