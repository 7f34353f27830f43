package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

func init() {
	// Version 4: the record of applied signed claims (each claim ID
	// applies once per org) and the evidence pointers governed work
	// attaches to a holding.
	migrations = append(migrations, migration{store: "capability", version: 4, stmts: []string{
		`CREATE TABLE capability_claims (
			org    TEXT NOT NULL,
			id     TEXT NOT NULL,
			digest TEXT NOT NULL,
			PRIMARY KEY (org, id)
		) WITHOUT ROWID`,
		`CREATE TABLE capability_evidence (
			org        TEXT NOT NULL,
			subject    TEXT NOT NULL,
			capability TEXT NOT NULL,
			ref        TEXT NOT NULL,
			kind       TEXT NOT NULL,
			task       TEXT NOT NULL,
			at         TEXT NOT NULL, -- fixed-width RFC 3339 (evidenceTime), so text order is time order
			PRIMARY KEY (org, subject, capability, ref)
		) WITHOUT ROWID`,
	}})
}

var (
	_ capability.ClaimStore    = (*GraphStore)(nil)
	_ capability.EvidenceStore = (*GraphStore)(nil)
)

// RecordClaim implements capability.ClaimStore.
func (s *GraphStore) RecordClaim(ctx context.Context, org, id, digest string) error {
	return s.d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO capability_claims (org, id, digest) VALUES (?, ?, ?)
			ON CONFLICT (org, id) DO NOTHING`, org, id, digest)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errs.Errorf(errs.ErrConflict, "claim %q of org %q is already recorded", id, org)
		}
		return nil
	})
}

// AddEvidence implements capability.EvidenceStore.
func (s *GraphStore) AddEvidence(ctx context.Context, org, subject, capabilityID string, ev capability.Evidence) error {
	return s.d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO capability_evidence (org, subject, capability, ref, kind, task, at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org, subject, capability, ref) DO NOTHING`,
			org, subject, capabilityID, ev.Ref, ev.Kind, ev.Task, ev.At.UTC().Format(capability.EvidenceTimeLayout))
		return err
	})
}

// Evidence implements capability.EvidenceStore.
func (s *GraphStore) Evidence(ctx context.Context, org, subject, capabilityID string) ([]capability.Evidence, error) {
	if err := graphCtxErr(ctx); err != nil {
		return nil, err
	}
	rows, err := s.d.db.QueryContext(ctx, `SELECT ref, kind, task, at FROM capability_evidence
		WHERE org = ? AND subject = ? AND capability = ? ORDER BY at, ref`, org, subject, capabilityID)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rows.Close()
	out := []capability.Evidence{}
	for rows.Next() {
		var ev capability.Evidence
		var at string
		if err := rows.Scan(&ev.Ref, &ev.Kind, &ev.Task, &at); err != nil {
			return nil, mapErr(ctx, err)
		}
		if ev.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, errs.Errorf(errs.ErrUnavailable, "sqlite graph store: evidence %q: bad time %q: %v", ev.Ref, at, err)
		}
		out = append(out, ev)
	}
	return out, mapErr(ctx, rows.Err())
}

var (
	_ capability.ClaimLister    = (*GraphStore)(nil)
	_ capability.EvidenceLister = (*GraphStore)(nil)
)

// ListClaims implements capability.ClaimLister.
func (s *GraphStore) ListClaims(ctx context.Context, org, after string, limit int) ([]capability.ClaimRecord, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	var out []capability.ClaimRecord
	err := listRows(ctx, s.d.db, `SELECT id, digest FROM capability_claims WHERE org = ? AND id > ? ORDER BY id LIMIT ?`,
		[]any{org, after, limit}, func(r *sql.Rows) error {
			var c capability.ClaimRecord
			if err := r.Scan(&c.ID, &c.Digest); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	return out, err
}

// ListEvidence implements capability.EvidenceLister.
func (s *GraphStore) ListEvidence(ctx context.Context, org string, after capability.EvidenceRecord, limit int) ([]capability.EvidenceRecord, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	var out []capability.EvidenceRecord
	err := listRows(ctx, s.d.db, `SELECT subject, capability, ref, kind, task, at FROM capability_evidence
		WHERE org = ? AND (subject, capability, ref) > (?, ?, ?) ORDER BY subject, capability, ref LIMIT ?`,
		[]any{org, after.Subject, after.Capability, after.Ref, limit}, func(r *sql.Rows) error {
			var e capability.EvidenceRecord
			var at string
			if err := r.Scan(&e.Subject, &e.Capability, &e.Ref, &e.Kind, &e.Task, &at); err != nil {
				return err
			}
			t, err := time.Parse(time.RFC3339Nano, at)
			if err != nil {
				return errs.Errorf(errs.ErrUnavailable, "sqlite graph store: evidence %q: bad time %q: %v", e.Ref, at, err)
			}
			e.At = t
			out = append(out, e)
			return nil
		})
	return out, err
}
