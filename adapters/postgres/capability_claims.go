package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

var (
	_ capability.ClaimStore    = (*GraphStore)(nil)
	_ capability.EvidenceStore = (*GraphStore)(nil)
)

// RecordClaim implements capability.ClaimStore (schema version 3).
func (s *GraphStore) RecordClaim(ctx context.Context, org, id, digest string) error {
	return s.d.tx(ctx, org, func(tx txn) error {
		tag, err := tx.Exec(ctx, `INSERT INTO {S}.capability_claims (org, id, digest) VALUES ($1, $2, $3)
			ON CONFLICT (org, id) DO NOTHING`, org, id, digest)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errs.Errorf(errs.ErrConflict, "claim %q of org %q is already recorded", id, org)
		}
		return nil
	})
}

// AddEvidence implements capability.EvidenceStore.
func (s *GraphStore) AddEvidence(ctx context.Context, org, subject, capabilityID string, ev capability.Evidence) error {
	return s.d.tx(ctx, org, func(tx txn) error {
		_, err := tx.Exec(ctx, `INSERT INTO {S}.capability_evidence (org, subject, capability, ref, kind, task, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org, subject, capability, ref) DO NOTHING`,
			org, subject, capabilityID, ev.Ref, ev.Kind, ev.Task, ev.At.UTC().Format(capability.EvidenceTimeLayout))
		return err
	})
}

// Evidence implements capability.EvidenceStore.
func (s *GraphStore) Evidence(ctx context.Context, org, subject, capabilityID string) ([]capability.Evidence, error) {
	out := []capability.Evidence{}
	err := s.d.read(ctx, org, `SELECT ref, kind, task, at FROM {S}.capability_evidence
		WHERE org = $1 AND subject = $2 AND capability = $3 ORDER BY at, ref`, []any{org, subject, capabilityID},
		func(r pgx.Rows) error {
			var ev capability.Evidence
			var at string
			if err := r.Scan(&ev.Ref, &ev.Kind, &ev.Task, &at); err != nil {
				return err
			}
			t, err := time.Parse(time.RFC3339Nano, at)
			if err != nil {
				return errs.Errorf(errs.ErrUnavailable, "postgres graph store: evidence %q: bad time %q: %v", ev.Ref, at, err)
			}
			ev.At = t
			out = append(out, ev)
			return nil
		})
	return out, err
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
	err := s.d.read(ctx, org, `SELECT id, digest FROM {S}.capability_claims WHERE org = $1 AND id > $2 ORDER BY id LIMIT $3`,
		[]any{org, after, limit}, func(r pgx.Rows) error {
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
	err := s.d.read(ctx, org, `SELECT subject, capability, ref, kind, task, at FROM {S}.capability_evidence
		WHERE org = $1 AND (subject, capability, ref) > ($2, $3, $4) ORDER BY subject, capability, ref LIMIT $5`,
		[]any{org, after.Subject, after.Capability, after.Ref, limit}, func(r pgx.Rows) error {
			var e capability.EvidenceRecord
			var at string
			if err := r.Scan(&e.Subject, &e.Capability, &e.Ref, &e.Kind, &e.Task, &at); err != nil {
				return err
			}
			t, err := time.Parse(time.RFC3339Nano, at)
			if err != nil {
				return errs.Errorf(errs.ErrUnavailable, "postgres graph store: evidence %q: bad time %q: %v", e.Ref, at, err)
			}
			e.At = t
			out = append(out, e)
			return nil
		})
	return out, err
}
