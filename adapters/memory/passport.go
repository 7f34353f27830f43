package memory

import (
	"bytes"
	"context"
	"slices"
	"sync"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// PassportStore is an in-memory passport.Store, safe for concurrent use.
type PassportStore struct {
	mu          sync.RWMutex
	events      map[passportKey][][]byte
	keys        map[passportKey]string // (org, public key) -> DID that claimed it
	delegations map[passportKey][]byte
	revocations map[passportKey][]byte
	generations map[string]uint64 // org -> write counter
}

var _ passport.Store = (*PassportStore)(nil)

// passportKey names one thing within one org.
type passportKey struct{ org, name string }

// NewPassportStore returns an empty store.
func NewPassportStore() *PassportStore {
	return &PassportStore{
		events:      map[passportKey][][]byte{},
		keys:        map[passportKey]string{},
		delegations: map[passportKey][]byte{},
		revocations: map[passportKey][]byte{},
		generations: map[string]uint64{},
	}
}

func passportCheck(ctx context.Context, what string, args ...string) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "memory passport store: %w", err)
	}
	for _, a := range args {
		if a == "" {
			return errs.Errorf(errs.ErrInvalidArgument, "memory passport store: %s: empty org, DID, ID or data", what)
		}
	}
	return nil
}

// AppendEvent implements passport.Store.
func (s *PassportStore) AppendEvent(ctx context.Context, org, did string, seq int, event []byte, claimKeys []string) error {
	if err := passportCheck(ctx, "append event", org, did, string(event)); err != nil {
		return err
	}
	if seq < 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "memory passport store: negative seq %d", seq)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := passportKey{org, did}
	if have := len(s.events[k]); seq != have {
		return errs.Errorf(errs.ErrConflict, "passport %s has %d events; cannot store seq %d", did, have, seq)
	}
	for _, pk := range claimKeys {
		if owner, ok := s.keys[passportKey{org, pk}]; ok && owner != did {
			return errs.Errorf(errs.ErrConflict, "key %s is claimed by %s", pk, owner)
		}
	}
	for _, pk := range claimKeys {
		s.keys[passportKey{org, pk}] = did
	}
	s.events[k] = append(s.events[k], bytes.Clone(event))
	s.generations[org]++
	return nil
}

// Events implements passport.Store.
func (s *PassportStore) Events(ctx context.Context, org, did string) ([][]byte, error) {
	if err := passportCheck(ctx, "events", org, did); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	evs, ok := s.events[passportKey{org, did}]
	if !ok {
		return nil, errs.Errorf(errs.ErrNotFound, "passport %s in org %q", did, org)
	}
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = bytes.Clone(e)
	}
	return out, nil
}

// PutDelegation implements passport.Store.
func (s *PassportStore) PutDelegation(ctx context.Context, org, id string, env []byte) error {
	return s.putOnce(ctx, s.delegations, "delegation", org, id, env)
}

// Delegation implements passport.Store.
func (s *PassportStore) Delegation(ctx context.Context, org, id string) ([]byte, error) {
	return s.get(ctx, s.delegations, "delegation", org, id)
}

// PutRevocation implements passport.Store.
func (s *PassportStore) PutRevocation(ctx context.Context, org, id string, env []byte) error {
	return s.putOnce(ctx, s.revocations, "revocation of", org, id, env)
}

// Revocation implements passport.Store.
func (s *PassportStore) Revocation(ctx context.Context, org, id string) ([]byte, error) {
	return s.get(ctx, s.revocations, "revocation of", org, id)
}

// Generation implements passport.Store.
func (s *PassportStore) Generation(ctx context.Context, org string) (uint64, error) {
	if err := passportCheck(ctx, "generation", org); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.generations[org], nil
}

func (s *PassportStore) putOnce(ctx context.Context, m map[passportKey][]byte, what, org, id string, env []byte) error {
	if err := passportCheck(ctx, what, org, id, string(env)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := passportKey{org, id}
	if have, ok := m[k]; ok {
		if bytes.Equal(have, env) {
			return nil
		}
		return errs.Errorf(errs.ErrConflict, "%s %s: other bytes are already stored", what, id)
	}
	m[k] = bytes.Clone(env)
	s.generations[org]++
	return nil
}

func (s *PassportStore) get(ctx context.Context, m map[passportKey][]byte, what, org, id string) ([]byte, error) {
	if err := passportCheck(ctx, what, org, id); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := m[passportKey{org, id}]
	if !ok {
		return nil, errs.Errorf(errs.ErrNotFound, "%s %s in org %q", what, id, org)
	}
	return slices.Clone(b), nil
}
