package postgres

import (
	"bytes"
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// PassportStore is the PostgreSQL passport.Store.
type PassportStore struct{ d *DB }

var _ passport.Store = (*PassportStore)(nil)

// NewPassportStore returns the passport store over d.
func NewPassportStore(d *DB) *PassportStore { return &PassportStore{d: d} }

func passportCheck(ctx context.Context, what string, args ...string) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "postgres passport store: %w", err)
	}
	for _, a := range args {
		if a == "" {
			return errs.Errorf(errs.ErrInvalidArgument, "postgres passport store: %s: empty org, DID or ID", what)
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
		return errs.Errorf(errs.ErrInvalidArgument, "postgres passport store: empty event or negative seq %d", seq)
	}
	return s.d.tx(ctx, org, func(tx txn) error {
		// Two appends of the same seq both pass the count below; the
		// primary key (org, did, seq) makes the later one a conflict.
		var have int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM {S}.passport_events WHERE org = $1 AND did = $2`, org, did).Scan(&have); err != nil {
			return err
		}
		if have != seq {
			return errs.Errorf(errs.ErrConflict, "passport %s has %d events; cannot store seq %d", did, have, seq)
		}
		for _, k := range claimKeys {
			// Insert-or-keep, then read the owner in a new statement (a new
			// snapshot): a concurrent claimer of the same key made this
			// insert wait on the unique index, and its row is visible now.
			if _, err := tx.Exec(ctx, `INSERT INTO {S}.passport_keys (org, key, did) VALUES ($1, $2, $3) ON CONFLICT (org, key) DO NOTHING`,
				org, k, did); err != nil {
				return err
			}
			var owner string
			if err := tx.QueryRow(ctx, `SELECT did FROM {S}.passport_keys WHERE org = $1 AND key = $2`, org, k).Scan(&owner); err != nil {
				return err
			}
			if owner != did {
				return errs.Errorf(errs.ErrConflict, "key %s is claimed by %s", k, owner)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO {S}.passport_events (org, did, seq, event) VALUES ($1, $2, $3, $4)`, org, did, seq, event); err != nil {
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
	var out [][]byte
	err := s.d.read(ctx, org, `SELECT event FROM {S}.passport_events WHERE org = $1 AND did = $2 ORDER BY seq`, []any{org, did},
		func(r pgx.Rows) error {
			var b []byte
			if err := r.Scan(&b); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	if err != nil {
		return nil, err
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
	return s.get(ctx, `SELECT env FROM {S}.passport_delegations WHERE org = $1 AND id = $2`, "delegation", org, id)
}

// PutRevocation implements passport.Store.
func (s *PassportStore) PutRevocation(ctx context.Context, org, id string, env []byte) error {
	return s.putOnce(ctx, "passport_revocations", "revocation of", org, id, env)
}

// Revocation implements passport.Store.
func (s *PassportStore) Revocation(ctx context.Context, org, id string) ([]byte, error) {
	return s.get(ctx, `SELECT env FROM {S}.passport_revocations WHERE org = $1 AND id = $2`, "revocation of", org, id)
}

// putOnce inserts env under (org, id) in table unless something is there:
// the same bytes are a no-op, other bytes a conflict. table is one of two
// constants above, never input.
func (s *PassportStore) putOnce(ctx context.Context, table, what, org, id string, env []byte) error {
	if err := passportCheck(ctx, what, org, id); err != nil {
		return err
	}
	if len(env) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "postgres passport store: %s %s: empty data", what, id)
	}
	return s.d.tx(ctx, org, func(tx txn) error {
		tag, err := tx.Exec(ctx, `INSERT INTO {S}.`+table+` (org, id, env) VALUES ($1, $2, $3) ON CONFLICT (org, id) DO NOTHING`, org, id, env)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return passportBump(ctx, tx, org)
		}
		var have []byte
		if err := tx.QueryRow(ctx, `SELECT env FROM {S}.`+table+` WHERE org = $1 AND id = $2`, org, id).Scan(&have); err != nil {
			return err
		}
		if bytes.Equal(have, env) {
			return nil
		}
		return errs.Errorf(errs.ErrConflict, "%s %s: other bytes are already stored", what, id)
	})
}

// passportBump advances org's generation inside the writing transaction.
func passportBump(ctx context.Context, tx txn, org string) error {
	_, err := tx.Exec(ctx, `INSERT INTO {S}.passport_generations (org, gen) VALUES ($1, 1)
		ON CONFLICT (org) DO UPDATE SET gen = passport_generations.gen + 1`, org)
	return err
}

// Generation implements passport.Store.
func (s *PassportStore) Generation(ctx context.Context, org string) (uint64, error) {
	if err := passportCheck(ctx, "generation", org); err != nil {
		return 0, err
	}
	var gen int64
	err := s.d.read(ctx, org, `SELECT gen FROM {S}.passport_generations WHERE org = $1`, []any{org}, func(r pgx.Rows) error {
		return r.Scan(&gen)
	})
	if err != nil {
		return 0, err
	}
	return uint64(gen), nil
}

func (s *PassportStore) get(ctx context.Context, query, what, org, id string) ([]byte, error) {
	if err := passportCheck(ctx, what, org, id); err != nil {
		return nil, err
	}
	var b []byte
	err := s.d.read(ctx, org, query, []any{org, id}, func(r pgx.Rows) error { return r.Scan(&b) })
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errs.Errorf(errs.ErrNotFound, "%s %s in org %q", what, id, org)
	}
	return b, nil
}
