package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

// PolicyStore is the PostgreSQL policy.Store: immutable versions in
// policy_versions, the active version per org in policy_active.
type PolicyStore struct{ d *DB }

var _ policy.Store = (*PolicyStore)(nil)

// NewPolicyStore returns the policy store over d.
func NewPolicyStore(d *DB) *PolicyStore { return &PolicyStore{d: d} }

// PutVersion implements policy.Store.
func (s *PolicyStore) PutVersion(ctx context.Context, org string, n int, doc []byte) error {
	if err := policy.CheckStoreArgs(ctx, org, n, true); err != nil {
		return err
	}
	if doc == nil {
		doc = []byte{}
	}
	err := s.d.tx(ctx, org, func(tx txn) error {
		_, err := tx.Exec(ctx, `INSERT INTO {S}.policy_versions (org, version, doc) VALUES ($1, $2, $3)`, org, n, doc)
		return err
	})
	if errs.Kind(err) == errs.ErrConflict {
		return errs.Errorf(errs.ErrConflict, "postgres policy store: org %s version %d already exists", org, n)
	}
	return err
}

// Version implements policy.Store.
func (s *PolicyStore) Version(ctx context.Context, org string, n int) ([]byte, error) {
	if err := policy.CheckStoreArgs(ctx, org, n, true); err != nil {
		return nil, err
	}
	var doc []byte
	found := false
	err := s.d.read(ctx, org, `SELECT doc FROM {S}.policy_versions WHERE org = $1 AND version = $2`, []any{org, n},
		func(r pgx.Rows) error { found = true; return r.Scan(&doc) })
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.Errorf(errs.ErrNotFound, "postgres policy store: org %s has no version %d", org, n)
	}
	if doc == nil {
		doc = []byte{}
	}
	return doc, nil
}

// Latest implements policy.Store.
func (s *PolicyStore) Latest(ctx context.Context, org string) (int, error) {
	if err := policy.CheckStoreArgs(ctx, org, 0, false); err != nil {
		return 0, err
	}
	var n int
	err := s.d.read(ctx, org, `SELECT coalesce(max(version), 0) FROM {S}.policy_versions WHERE org = $1`, []any{org},
		func(r pgx.Rows) error { return r.Scan(&n) })
	return n, err
}

// SetActive implements policy.Store.
func (s *PolicyStore) SetActive(ctx context.Context, org string, n, expected int) error {
	if err := policy.CheckStoreArgs(ctx, org, n, true); err != nil {
		return err
	}
	if expected < 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "postgres policy store: expected version %d is negative", expected)
	}
	return s.d.tx(ctx, org, func(tx txn) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM {S}.policy_versions WHERE org = $1 AND version = $2)`, org, n).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return errs.Errorf(errs.ErrNotFound, "postgres policy store: org %s has no version %d", org, n)
		}
		// The compare-and-swap is one statement: the row lock taken by the
		// UPDATE (or the unique index for the first activation) orders
		// concurrent activations, and the WHERE re-checks after waiting.
		var tag int64
		if expected == 0 {
			t, err := tx.Exec(ctx, `INSERT INTO {S}.policy_active (org, version) VALUES ($1, $2) ON CONFLICT (org) DO NOTHING`, org, n)
			if err != nil {
				return err
			}
			tag = t.RowsAffected()
		} else {
			t, err := tx.Exec(ctx, `UPDATE {S}.policy_active SET version = $2 WHERE org = $1 AND version = $3`, org, n, expected)
			if err != nil {
				return err
			}
			tag = t.RowsAffected()
		}
		if tag == 1 {
			return nil
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT version FROM {S}.policy_active WHERE org = $1), 0)`, org).Scan(&cur); err != nil {
			return err
		}
		return errs.Errorf(errs.ErrConflict, "postgres policy store: org %s: active version is %d, not %d", org, cur, expected)
	})
}

// Active implements policy.Store.
func (s *PolicyStore) Active(ctx context.Context, org string) (int, []byte, error) {
	if err := policy.CheckStoreArgs(ctx, org, 0, false); err != nil {
		return 0, nil, err
	}
	var (
		n     int
		doc   []byte
		found bool
	)
	err := s.d.read(ctx, org, `SELECT a.version, v.doc FROM {S}.policy_active a
		JOIN {S}.policy_versions v ON v.org = a.org AND v.version = a.version WHERE a.org = $1`, []any{org},
		func(r pgx.Rows) error { found = true; return r.Scan(&n, &doc) })
	if err != nil {
		return 0, nil, err
	}
	if !found {
		return 0, nil, errs.Errorf(errs.ErrNotFound, "postgres policy store: org %s has no active policy", org)
	}
	if doc == nil {
		doc = []byte{}
	}
	return n, doc, nil
}
