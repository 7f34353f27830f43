package capability

import (
	"context"
	"time"

	"github.com/humanos/human/errs"
)

// EvidenceTimeLayout is the text form SQL stores keep Evidence.At in: RFC
// 3339 in UTC with nine fraction digits, always, so that it is fixed width
// and text order is time order. Parse it back with time.RFC3339Nano.
const EvidenceTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Evidence is a pointer to governed work that shows a holder exercising a
// capability: an approval given, a task completed. It points, it does not
// copy: Ref names the attested record (for an approval, "ledger:<index>"
// of the vote's attestation, whose receipt proves it).
type Evidence struct {
	Kind string    `json:"kind"`           // "approval", "task", ...
	Ref  string    `json:"ref"`            // the record pointed to; unique per (subject, capability)
	Task string    `json:"task,omitempty"` // the task it came from, if any
	At   time.Time `json:"at"`
}

// EvidenceStore is an optional extension of [Store]: evidence pointers
// attached to a (subject, capability) holding. Contexts and errors are as
// for [Store].
type EvidenceStore interface {
	// AddEvidence attaches ev to subject's holding of capability in org.
	// Adding evidence with a Ref already attached there is a no-op (a
	// retried hook does not count twice).
	AddEvidence(ctx context.Context, org, subject, capability string, ev Evidence) error
	// Evidence returns the evidence attached to subject's holding of
	// capability in org, oldest first (At, then Ref); none is an empty
	// result, not an error.
	Evidence(ctx context.Context, org, subject, capability string) ([]Evidence, error)
}

func (g *Graph) evidenceStore() (EvidenceStore, error) {
	es, ok := g.store.(EvidenceStore)
	if !ok {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "capability: this graph store keeps no evidence")
	}
	return es, nil
}

// AddEvidence attaches ev to subject's holding of capability in org. The
// subject must hold the capability now (directly, through teams or roles):
// errs.ErrFailedPrecondition otherwise, and when the store is not an
// [EvidenceStore]. Empty or malformed IDs, kind or ref, or a zero time,
// are errs.ErrInvalidArgument.
func (g *Graph) AddEvidence(ctx context.Context, org, subject, capability string, ev Evidence) error {
	es, err := g.evidenceStore()
	if err != nil {
		return err
	}
	if err := validID("evidence kind", ev.Kind); err != nil {
		return err
	}
	if err := validID("evidence ref", ev.Ref); err != nil {
		return err
	}
	if ev.Task != "" {
		if err := validID("evidence task", ev.Task); err != nil {
			return err
		}
	}
	if ev.At.IsZero() {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: evidence %q has no time", ev.Ref)
	}
	_, held, err := g.Holds(ctx, org, subject, capability)
	if err != nil {
		return err
	}
	if !held {
		return errs.Errorf(errs.ErrFailedPrecondition, "capability: %s does not hold %s in org %q; no holding to attach evidence to", subject, capability, org)
	}
	ev.At = ev.At.UTC()
	return es.AddEvidence(ctx, org, subject, capability, ev)
}

// Evidence returns the evidence attached to subject's holding of
// capability in org, oldest first; errs.ErrFailedPrecondition when the
// store is not an [EvidenceStore].
func (g *Graph) Evidence(ctx context.Context, org, subject, capability string) ([]Evidence, error) {
	es, err := g.evidenceStore()
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ n, v string }{{"org", org}, {"subject", subject}, {"capability", capability}} {
		if err := validID(f.n, f.v); err != nil {
			return nil, err
		}
	}
	return es.Evidence(ctx, org, subject, capability)
}
