package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

func init() {
	migrations = append(migrations, migration{store: "passport", version: 1, stmts: []string{
		`CREATE TABLE passport_events (
			org TEXT NOT NULL, did TEXT NOT NULL, seq INTEGER NOT NULL, event BLOB NOT NULL,
			PRIMARY KEY (org, did, seq))`,
		`CREATE TABLE passport_keys (
			org TEXT NOT NULL, key TEXT NOT NULL, did TEXT NOT NULL,
			PRIMARY KEY (org, key))`,
		`CREATE TABLE passport_delegations (
			org TEXT NOT NULL, id TEXT NOT NULL, env BLOB NOT NULL,
			PRIMARY KEY (org, id))`,
		`CREATE TABLE passport_revocations (
			org TEXT NOT NULL, id TEXT NOT NULL, env BLOB NOT NULL,
			PRIMARY KEY (org, id))`,
		`CREATE TABLE passport_generations (
			org TEXT NOT NULL PRIMARY KEY, gen INTEGER NOT NULL)`,
	}})
}

// PassportStore is the SQLite passport.Store.
type PassportStore struct {
	d *DB
}

var _ passport.Store = (*PassportStore)(nil)

// NewPassportStore returns the passport store over db.
func NewPassportStore(db *DB) *PassportStore { return &PassportStore{d: db} }

func passportCheck(ctx context.Context, what string, args ...string) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "sqlite: %w", err)
	}
	for _, a := range args {
		if a == "" {
			return errs.Errorf(errs.ErrInvalidArgument, "sqlite passport store: %s: empty org, DID, ID or data", what)
		}
	}
	return nil
}

// AppendEvent implements passport.Store.
func (s *PassportStore) AppendEvent(ctx context.Context, org, did string, seq int, event []byte, claimKeys []string) error {
	if err := passportCheck(ctx, "append event", org, did); err != nil {
		return err
	}
	if len(event) == 0 || seq < 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "sqlite passport store: empty event or negative seq %d", seq)
	}
	return s.d.tx(ctx, func(tx *sql.Tx) error {
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM passport_events WHERE org = ? AND did = ?`, org, did).Scan(&have); err != nil {
			return err
		}
		if have != seq {
			return errs.Errorf(errs.ErrConflict, "passport %s has %d events; cannot store seq %d", did, have, seq)
		}
		for _, k := range claimKeys {
			var owner string
			err := tx.QueryRowContext(ctx, `SELECT did FROM passport_keys WHERE org = ? AND key = ?`, org, k).Scan(&owner)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				if _, err := tx.ExecContext(ctx, `INSERT INTO passport_keys (org, key, did) VALUES (?, ?, ?)`, org, k, did); err != nil {
					return err
				}
			case err != nil:
				return err
			case owner != did:
				return errs.Errorf(errs.ErrConflict, "key %s is claimed by %s", k, owner)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO passport_events (org, did, seq, event) VALUES (?, ?, ?, ?)`, org, did, seq, event); err != nil {
			return err
		}
		return passportBump(ctx, tx, org)
	})
}

// Events implements passport.Store.
func (s *PassportStore) Events(ctx context.Context, org, did string) ([][]byte, error) {
	if err := passportCheck(ctx, "events", org, did); err != nil {
		return nil, err
	}
	rows, err := s.d.db.QueryContext(ctx, `SELECT event FROM passport_events WHERE org = ? AND did = ? ORDER BY seq`, org, did)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, mapErr(ctx, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(ctx, err)
	}
	if len(out) == 0 {
		return nil, errs.Errorf(errs.ErrNotFound, "passport %s in org %q", did, org)
	}
	return out, nil
}

// PutDelegation implements passport.Store.
func (s *PassportStore) PutDelegation(ctx context.Context, org, id string, env []byte) error {
	return s.putOnce(ctx, "passport_delegations", "delegation", org, id, env)
}

// Delegation implements passport.Store.
func (s *PassportStore) Delegation(ctx context.Context, org, id string) ([]byte, error) {
	return s.get(ctx, `SELECT env FROM passport_delegations WHERE org = ? AND id = ?`, "delegation", org, id)
}

// PutRevocation implements passport.Store.
func (s *PassportStore) PutRevocation(ctx context.Context, org, id string, env []byte) error {
	return s.putOnce(ctx, "passport_revocations", "revocation of", org, id, env)
}

// Revocation implements passport.Store.
func (s *PassportStore) Revocation(ctx context.Context, org, id string) ([]byte, error) {
	return s.get(ctx, `SELECT env FROM passport_revocations WHERE org = ? AND id = ?`, "revocation of", org, id)
}

// putOnce inserts env under (org, id) in table unless something is there:
// the same bytes are a no-op, other bytes a conflict. table is one of two
// constants above, never input.
func (s *PassportStore) putOnce(ctx context.Context, table, what, org, id string, env []byte) error {
	if err := passportCheck(ctx, what, org, id); err != nil {
		return err
	}
	if len(env) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "sqlite passport store: %s %s: empty data", what, id)
	}
	return s.d.tx(ctx, func(tx *sql.Tx) error {
		var have []byte
		err := tx.QueryRowContext(ctx, `SELECT env FROM `+table+` WHERE org = ? AND id = ?`, org, id).Scan(&have)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (org, id, env) VALUES (?, ?, ?)`, org, id, env); err != nil {
				return err
			}
			return passportBump(ctx, tx, org)
		case err != nil:
			return err
		case bytes.Equal(have, env):
			return nil
		}
		return errs.Errorf(errs.ErrConflict, "%s %s: other bytes are already stored", what, id)
	})
}

// passportBump advances org's generation inside the writing transaction.
func passportBump(ctx context.Context, tx *sql.Tx, org string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO passport_generations (org, gen) VALUES (?, 1)
		ON CONFLICT (org) DO UPDATE SET gen = gen + 1`, org)
	return err
}

// Generation implements passport.Store.
func (s *PassportStore) Generation(ctx context.Context, org string) (uint64, error) {
	if err := passportCheck(ctx, "generation", org); err != nil {
		return 0, err
	}
	var gen int64
	err := s.d.queryRow(ctx, `SELECT gen FROM passport_generations WHERE org = ?`, org).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, mapErr(ctx, err)
	}
	return uint64(gen), nil
}

func (s *PassportStore) get(ctx context.Context, query, what, org, id string) ([]byte, error) {
	if err := passportCheck(ctx, what, org, id); err != nil {
		return nil, err
	}
	var b []byte
	if err := s.d.db.QueryRowContext(ctx, query, org, id).Scan(&b); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errs.Errorf(errs.ErrNotFound, "%s %s in org %q", what, id, org)
		}
		return nil, mapErr(ctx, err)
	}
	return b, nil
}
