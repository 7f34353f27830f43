package memory

import (
	"bytes"
	"context"
	"sync"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

// PolicyStore is an in-memory policy.Store, safe for concurrent use.
type PolicyStore struct {
	mu   sync.RWMutex
	orgs map[string]*policyOrg
}

var _ policy.Store = (*PolicyStore)(nil)

// policyOrg is one org's versions and its active version (0: none).
type policyOrg struct {
	versions map[int][]byte
	latest   int
	active   int
}

// NewPolicyStore returns an empty policy store.
func NewPolicyStore() *PolicyStore {
	return &PolicyStore{orgs: map[string]*policyOrg{}}
}

// policyCheck validates the arguments every method shares.
func policyCheck(ctx context.Context, org string, n int, needN bool) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "memory policy store: %w", err)
	}
	if org == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "memory policy store: empty org")
	}
	if needN && n < 1 {
		return errs.Errorf(errs.ErrInvalidArgument, "memory policy store: version %d: versions start at 1", n)
	}
	return nil
}

// PutVersion implements policy.Store.
func (s *PolicyStore) PutVersion(ctx context.Context, org string, n int, doc []byte) error {
	if err := policyCheck(ctx, org, n, true); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[org]
	if o == nil {
		o = &policyOrg{versions: map[int][]byte{}}
		s.orgs[org] = o
	}
	if _, ok := o.versions[n]; ok {
		return errs.Errorf(errs.ErrConflict, "memory policy store: org %s version %d already exists", org, n)
	}
	o.versions[n] = bytes.Clone(doc)
	o.latest = max(o.latest, n)
	return nil
}

// Version implements policy.Store.
func (s *PolicyStore) Version(ctx context.Context, org string, n int) ([]byte, error) {
	if err := policyCheck(ctx, org, n, true); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.orgs[org]; o != nil {
		if doc, ok := o.versions[n]; ok {
			return bytes.Clone(doc), nil
		}
	}
	return nil, errs.Errorf(errs.ErrNotFound, "memory policy store: org %s has no version %d", org, n)
}

// Latest implements policy.Store.
func (s *PolicyStore) Latest(ctx context.Context, org string) (int, error) {
	if err := policyCheck(ctx, org, 0, false); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.orgs[org]; o != nil {
		return o.latest, nil
	}
	return 0, nil
}

// SetActive implements policy.Store.
func (s *PolicyStore) SetActive(ctx context.Context, org string, n, expected int) error {
	if err := policyCheck(ctx, org, n, true); err != nil {
		return err
	}
	if expected < 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "memory policy store: expected version %d is negative", expected)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[org]
	if o == nil {
		return errs.Errorf(errs.ErrNotFound, "memory policy store: org %s has no version %d", org, n)
	}
	if _, ok := o.versions[n]; !ok {
		return errs.Errorf(errs.ErrNotFound, "memory policy store: org %s has no version %d", org, n)
	}
	if o.active != expected {
		return errs.Errorf(errs.ErrConflict, "memory policy store: org %s: active version is %d, not %d", org, o.active, expected)
	}
	o.active = n
	return nil
}

// Active implements policy.Store.
func (s *PolicyStore) Active(ctx context.Context, org string) (int, []byte, error) {
	if err := policyCheck(ctx, org, 0, false); err != nil {
		return 0, nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.orgs[org]; o != nil && o.active != 0 {
		return o.active, bytes.Clone(o.versions[o.active]), nil
	}
	return 0, nil, errs.Errorf(errs.ErrNotFound, "memory policy store: org %s has no active policy", org)
}
