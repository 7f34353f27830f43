package bundle

import (
	"context"
	"errors"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

// The claim record and the evidence of the capability graph travel in
// their own parts (ClaimsFile, EvidenceFile). Bundles written before
// these parts existed do not list them and import as bundles with none.

// precheckClaims refuses, before any write: a bundle with claim records
// for a destination graph store that keeps none (errs.ErrFailedPrecondition:
// dropping them would let every claim applied before the move be
// replayed later, once the org moves on to a store that applies claims);
// a destination claim record with the same ID and another digest, and
// destination evidence with the same (subject, capability, ref) and
// another kind, task or time (errs.ErrConflict).
func precheckClaims(ctx context.Context, dir string, m *Manifest, dst *Stores) error {
	org := dst.Org
	if m.lists(ClaimsFile) && m.Counts[KindClaims] > 0 {
		if _, ok := dst.Graph.(capability.ClaimStore); !ok {
			return errs.Errorf(errs.ErrFailedPrecondition,
				"bundle: the bundle holds %d applied capability claims but the destination graph store (%T) keeps no claim record (capability.ClaimStore): importing without them would allow those claims to be replayed", m.Counts[KindClaims], dst.Graph)
		}
		if cl, ok := dst.Graph.(capability.ClaimLister); ok {
			cur := &claimCursor{ctx: ctx, org: org, l: cl}
			err := eachLine(ctx, dir, ClaimsFile, func(r *capability.ClaimRecord) error {
				have, found, err := cur.seek(r.ID)
				if err != nil {
					return err
				}
				if found && have.Digest != r.Digest {
					return errs.Errorf(errs.ErrConflict, "bundle: %s: claim %s has another payload digest at the destination", ClaimsFile, r.ID)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	if es, ok := dst.Graph.(capability.EvidenceStore); ok && m.lists(EvidenceFile) {
		held := holdingEvidence{es: es, org: org}
		return eachLine(ctx, dir, EvidenceFile, func(r *capability.EvidenceRecord) error {
			have, found, err := held.find(ctx, r)
			if err != nil {
				return err
			}
			if found && (have.Kind != r.Kind || have.Task != r.Task || !have.At.Equal(r.At)) {
				return errs.Errorf(errs.ErrConflict, "bundle: %s: evidence %s on %s's %s differs at the destination", EvidenceFile, r.Ref, r.Subject, r.Capability)
			}
			return nil
		})
	}
	return nil
}

// importClaims writes the claim records (as recorded: the same ID and
// digest, so a replayed claim is refused at the destination too) and the
// evidence (through the store, without Graph.AddEvidence's "holds it now"
// check: evidence records work done while a holding existed and stays when
// the holding is removed). Both writes are idempotent.
func importClaims(ctx context.Context, dir string, m *Manifest, dst *Stores, rep *ImportReport) error {
	org := dst.Org
	if m.lists(ClaimsFile) {
		cs, ok := dst.Graph.(capability.ClaimStore)
		err := eachLine(ctx, dir, ClaimsFile, func(r *capability.ClaimRecord) error {
			if !ok { // only when the bundle has none: precheckClaims refused the rest
				return errs.Errorf(errs.ErrFailedPrecondition, "bundle: the destination graph store (%T) keeps no claim record", dst.Graph)
			}
			err := cs.RecordClaim(ctx, org, r.ID, r.Digest)
			if errs.Kind(err) == errs.ErrConflict {
				return nil // already recorded (prechecked equal where listable)
			}
			if err != nil {
				return err
			}
			rep.Written[KindClaims]++
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !m.lists(EvidenceFile) {
		return nil
	}
	es, ok := dst.Graph.(capability.EvidenceStore)
	held := holdingEvidence{es: es, org: org}
	return eachLine(ctx, dir, EvidenceFile, func(r *capability.EvidenceRecord) error {
		if !ok {
			rep.Skipped[KindEvidence]++
			return nil
		}
		if _, found, err := held.find(ctx, r); err != nil || found {
			return err // found: prechecked equal
		}
		if err := es.AddEvidence(ctx, org, r.Subject, r.Capability, r.Evidence); err != nil {
			return err
		}
		rep.Written[KindEvidence]++
		return nil
	})
}

// claimCursor walks a destination's claim record in ID order alongside
// the bundle's (also in ID order, as Verify checked): one pass, one page
// at a time.
type claimCursor struct {
	ctx   context.Context
	org   string
	l     capability.ClaimLister
	page  []capability.ClaimRecord
	i     int
	after string
	done  bool
}

// seek returns the destination record with ID id, if any; ids must be
// asked in increasing order.
func (c *claimCursor) seek(id string) (capability.ClaimRecord, bool, error) {
	for {
		for c.i < len(c.page) && c.page[c.i].ID < id {
			c.i++
		}
		if c.i < len(c.page) {
			return c.page[c.i], c.page[c.i].ID == id, nil
		}
		if c.done {
			return capability.ClaimRecord{}, false, nil
		}
		page, err := c.l.ListClaims(c.ctx, c.org, c.after, pageSize)
		if err != nil {
			return capability.ClaimRecord{}, false, err
		}
		c.page, c.i, c.done = page, 0, len(page) < pageSize
		if len(page) > 0 {
			c.after = page[len(page)-1].ID
		}
	}
}

// holdingEvidence looks evidence up at the destination one holding at a
// time: the bundle's evidence is grouped by holding (listing order), so
// each holding's evidence is read once.
type holdingEvidence struct {
	es       capability.EvidenceStore
	org      string
	subject  string
	capName  string
	loaded   bool
	evidence map[string]capability.Evidence
}

func (h *holdingEvidence) find(ctx context.Context, r *capability.EvidenceRecord) (capability.Evidence, bool, error) {
	if !h.loaded || h.subject != r.Subject || h.capName != r.Capability {
		have, err := h.es.Evidence(ctx, h.org, r.Subject, r.Capability)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return capability.Evidence{}, false, err
		}
		h.subject, h.capName, h.loaded = r.Subject, r.Capability, true
		h.evidence = make(map[string]capability.Evidence, len(have))
		for _, ev := range have {
			h.evidence[ev.Ref] = ev
		}
	}
	ev, ok := h.evidence[r.Ref]
	return ev, ok, nil
}
