package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

func init() {
	migrations = append(migrations, migration{store: "policy", version: 1, stmts: []string{
		`CREATE TABLE policy_versions (
			org     TEXT    NOT NULL,
			version INTEGER NOT NULL CHECK (version >= 1),
			doc     BLOB    NOT NULL,
			PRIMARY KEY (org, version)
		) WITHOUT ROWID`,
		`CREATE TABLE policy_active (
			org     TEXT    NOT NULL PRIMARY KEY,
			version INTEGER NOT NULL,
			FOREIGN KEY (org, version) REFERENCES policy_versions (org, version)
		) WITHOUT ROWID`,
	}})
}

// PolicyStore is the SQLite policy.Store: immutable versions in
// policy_versions, the active version per org in policy_active.
type PolicyStore struct {
	db *DB
}

var _ policy.Store = (*PolicyStore)(nil)

// NewPolicyStore returns the policy store of db.
func NewPolicyStore(db *DB) *PolicyStore { return &PolicyStore{db: db} }

// PutVersion implements policy.Store.
func (s *PolicyStore) PutVersion(ctx context.Context, org string, n int, doc []byte) error {
	if err := policy.CheckStoreArgs(ctx, org, n, true); err != nil {
		return err
	}
	if doc == nil {
		doc = []byte{}
	}
	return s.db.tx(ctx, func(tx *sql.Tx) error {
		var exists int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM policy_versions WHERE org = ? AND version = ?`, org, n).Scan(&exists)
		switch {
		case err == nil:
			return errs.Errorf(errs.ErrConflict, "sqlite policy store: org %s version %d already exists", org, n)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO policy_versions (org, version, doc) VALUES (?, ?, ?)`, org, n, doc)
		return err
	})
}

// Version implements policy.Store.
func (s *PolicyStore) Version(ctx context.Context, org string, n int) ([]byte, error) {
	if err := policy.CheckStoreArgs(ctx, org, n, true); err != nil {
		return nil, err
	}
	var doc []byte
	err := s.db.db.QueryRowContext(ctx, `SELECT doc FROM policy_versions WHERE org = ? AND version = ?`, org, n).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.Errorf(errs.ErrNotFound, "sqlite policy store: org %s has no version %d", org, n)
	}
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	return doc, nil
}

// Latest implements policy.Store.
func (s *PolicyStore) Latest(ctx context.Context, org string) (int, error) {
	if err := policy.CheckStoreArgs(ctx, org, 0, false); err != nil {
		return 0, err
	}
	var n int
	err := s.db.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM policy_versions WHERE org = ?`, org).Scan(&n)
	if err != nil {
		return 0, mapErr(ctx, err)
	}
	return n, nil
}

// SetActive implements policy.Store.
func (s *PolicyStore) SetActive(ctx context.Context, org string, n, expected int) error {
	if err := policy.CheckStoreArgs(ctx, org, n, true); err != nil {
		return err
	}
	if expected < 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "sqlite policy store: expected version %d is negative", expected)
	}
	return s.db.tx(ctx, func(tx *sql.Tx) error {
		var exists int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM policy_versions WHERE org = ? AND version = ?`, org, n).Scan(&exists)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.Errorf(errs.ErrNotFound, "sqlite policy store: org %s has no version %d", org, n)
		}
		if err != nil {
			return err
		}
		var cur int
		err = tx.QueryRowContext(ctx, `SELECT version FROM policy_active WHERE org = ?`, org).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if cur != expected {
			return errs.Errorf(errs.ErrConflict, "sqlite policy store: org %s: active version is %d, not %d", org, cur, expected)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO policy_active (org, version) VALUES (?, ?)
			ON CONFLICT (org) DO UPDATE SET version = excluded.version`, org, n)
		return err
	})
}

// Active implements policy.Store.
func (s *PolicyStore) Active(ctx context.Context, org string) (int, []byte, error) {
	if err := policy.CheckStoreArgs(ctx, org, 0, false); err != nil {
		return 0, nil, err
	}
	var (
		n   int
		doc []byte
	)
	err := s.db.db.QueryRowContext(ctx, `SELECT a.version, v.doc FROM policy_active a
		JOIN policy_versions v ON v.org = a.org AND v.version = a.version WHERE a.org = ?`, org).Scan(&n, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, errs.Errorf(errs.ErrNotFound, "sqlite policy store: org %s has no active policy", org)
	}
	if err != nil {
		return 0, nil, mapErr(ctx, err)
	}
	return n, doc, nil
}
