package capability

import (
	"context"
	"encoding/hex"

	"github.com/humanos/human/errs"
)

// ClaimRecord is one applied claim as a [ClaimStore] records it: the
// claim's ID and the SHA-256 digest (hex) of its signed payload.
type ClaimRecord struct {
	ID     string `json:"id"`
	Digest string `json:"digest"`
}

// Validate checks a record's shape: a valid ID and a lowercase hex
// SHA-256 digest; errs.ErrInvalidArgument otherwise.
func (r ClaimRecord) Validate() error {
	if err := validID("claim id", r.ID); err != nil {
		return err
	}
	if b, err := hex.DecodeString(r.Digest); err != nil || len(b) != 32 || hex.EncodeToString(b) != r.Digest {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: claim %q has digest %q, want 64 lowercase hex digits", r.ID, r.Digest)
	}
	return nil
}

// ClaimLister is an optional interface of a [ClaimStore]: it enumerates
// an org's applied-claim record, a page at a time, so the record moves
// with the org (package bundle) and a claim applied before a migration
// stays spent after it. Paging is as for [Lister].
//
// A limit below 1 or an empty org is errs.ErrInvalidArgument. When ctx is
// already cancelled or ends during the call, it returns an error wrapping
// both errs.ErrUnavailable and ctx.Err(). Listing changes nothing.
//
// Records are imported as they were with [ClaimStore.RecordClaim], which
// keeps the digest it is given.
type ClaimLister interface {
	// ListClaims returns org's claim records whose ID is greater than
	// after, ordered by ID (bytes), at most limit.
	ListClaims(ctx context.Context, org, after string, limit int) ([]ClaimRecord, error)
}

// EvidenceRecord is one evidence pointer with the holding it is attached
// to: Subject's holding of Capability.
type EvidenceRecord struct {
	Subject    string `json:"subject"`
	Capability string `json:"capability"`
	Evidence
}

// Validate checks a record's shape as [Graph.AddEvidence] does (valid
// subject, capability, kind and ref, a valid task when set, a non-zero
// time), without asking whether the subject holds the capability now;
// errs.ErrInvalidArgument otherwise.
func (r EvidenceRecord) Validate() error {
	for _, f := range []struct{ n, v string }{{"evidence subject", r.Subject}, {"evidence capability", r.Capability}, {"evidence kind", r.Kind}, {"evidence ref", r.Ref}} {
		if err := validID(f.n, f.v); err != nil {
			return err
		}
	}
	if r.Task != "" {
		if err := validID("evidence task", r.Task); err != nil {
			return err
		}
	}
	if r.At.IsZero() {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: evidence %q has no time", r.Ref)
	}
	return nil
}

// EvidenceLister is an optional interface of an [EvidenceStore]: it
// enumerates every evidence pointer of an org, a page at a time, so
// evidence moves with the org (package bundle). Paging is as for
// [Lister], in [EvidenceLess] order.
//
// A limit below 1 or an empty org is errs.ErrInvalidArgument. When ctx is
// already cancelled or ends during the call, it returns an error wrapping
// both errs.ErrUnavailable and ctx.Err(). Listing changes nothing.
//
// Evidence is imported as it was with [EvidenceStore.AddEvidence], not
// [Graph.AddEvidence]: evidence is a record of work done while the holding
// existed, and stays when the holding is later removed, so "the subject
// holds the capability now" is no condition for carrying it over.
type EvidenceLister interface {
	// ListEvidence returns org's evidence whose (Subject, Capability, Ref)
	// is greater than after's, ordered by (Subject, Capability, Ref), at
	// most limit. Only after's Subject, Capability and Ref are read.
	ListEvidence(ctx context.Context, org string, after EvidenceRecord, limit int) ([]EvidenceRecord, error)
}

// EvidenceLess reports whether a sorts before b in [EvidenceLister]
// order: by Subject, then Capability, then Ref, comparing bytes.
func EvidenceLess(a, b EvidenceRecord) bool {
	if a.Subject != b.Subject {
		return a.Subject < b.Subject
	}
	if a.Capability != b.Capability {
		return a.Capability < b.Capability
	}
	return a.Ref < b.Ref
}
