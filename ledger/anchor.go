package ledger

import (
	"bytes"
	"context"
	"encoding/json"

	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/errs"
)

// PredicateAnchor records another log's signed checkpoint in this log, so
// that the other log can never later show a tree that does not extend it
// without the anchoring log's receipt proving so.
const PredicateAnchor = "https://humanos.dev/attestation/anchor/v1"

// AnchorPredicate is the predicate of a PredicateAnchor attestation. Its
// one subject is named by the anchored origin, with the SHA-256 of the
// checkpoint's note body as digest.
type AnchorPredicate struct {
	// Action is always "anchor" (it indexes for Query).
	Action string `json:"action"`
	// Org is the anchoring log's org.
	Org string `json:"org,omitempty"`
	// Origin, Size and Root repeat the anchored checkpoint's lines.
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	// Checkpoint is the anchored checkpoint as signed (with any
	// cosignatures).
	Checkpoint string `json:"checkpoint"`
	// Time is when the anchoring log attested it.
	Time string `json:"time"`
}

// Anchor attests another log's signed checkpoint in this log
// (PredicateAnchor) and queues it like Attest. It checks the checkpoint's
// shape, not its signature (the anchoring log need not know the other
// log's key; VerifyAnchor checks it). Malformed input is
// errs.ErrInvalidArgument.
func (l *Log) Anchor(ctx context.Context, signed []byte) (*Pending, error) {
	body, _, ok := bytes.Cut(signed, []byte("\n\n"))
	if !ok || len(signed) > maxNote {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "anchor: not a signed checkpoint")
	}
	body = append(body, '\n')
	cp, err := ParseCheckpoint(body)
	if err != nil {
		return nil, err
	}
	st, err := NewStatement(PredicateAnchor, &AnchorPredicate{
		Action: "anchor", Org: l.org, Origin: cp.Origin, Size: cp.Size, Root: cp.Hash,
		Checkpoint: string(signed), Time: l.now().UTC().Format("2006-01-02T15:04:05.999999999Z07:00"),
	}, SubjectFor(cp.Origin, body))
	if err != nil {
		return nil, err
	}
	return l.Attest(ctx, st)
}

// AnchorIn anchors this log's latest checkpoint in host (another org's
// log, a public ledger) and returns host's receipt once durable: what
// VerifyAnchor checks.
func (l *Log) AnchorIn(ctx context.Context, host *Log) (*Receipt, error) {
	_, signed, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	p, err := host.Anchor(ctx, signed)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// VerifyAnchor checks, offline, a receipt of the host log (whose note
// verifier key is hostKey) for an anchor attestation, and returns the
// anchored checkpoint it proves was in the host log: the receipt verifies
// under hostKey, its entry is a PredicateAnchor attestation signed by the
// host key, its checkpoint is signed by anchored (the anchored log's
// verifier) and matches the subject and predicate lines. Any mismatch or
// bad signature is errs.ErrUnauthenticated; malformed input is
// errs.ErrInvalidArgument. Check a later checkpoint of the anchored log
// against the result with VerifyConsistency.
func VerifyAnchor(r *Receipt, hostKey string, anchored note.Verifier) (*Checkpoint, error) {
	host, err := NewVerifier(hostKey)
	if err != nil {
		return nil, err
	}
	pub, err := publicKeyOf(hostKey)
	if err != nil {
		return nil, err
	}
	if r == nil || r.Entry == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "anchor: the receipt must carry its entry")
	}
	if err := VerifyReceipt(r, host); err != nil {
		return nil, err
	}
	env, st, err := ParseAttestation(r.Entry)
	if err != nil {
		return nil, err
	}
	if err := env.VerifiedBy(pub); err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "anchor: entry %d is not signed by the host log's key: %v", r.Index, err)
	}
	if st.PredicateType != PredicateAnchor || len(st.Subject) != 1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "anchor: entry %d is a %q attestation, not one anchor", r.Index, st.PredicateType)
	}
	var p AnchorPredicate
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "anchor: entry %d: predicate: %v", r.Index, err)
	}
	cp, n, err := openNote([]byte(p.Checkpoint), anchored)
	if err != nil {
		return nil, err
	}
	want := SubjectFor(cp.Origin, []byte(n.Text))
	if st.Subject[0].Name != want.Name || st.Subject[0].Digest["sha256"] != want.Digest["sha256"] ||
		p.Origin != cp.Origin || p.Size != cp.Size || !bytes.Equal(p.Root, cp.Hash) {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "anchor: entry %d: subject or predicate does not match the anchored checkpoint", r.Index)
	}
	return cp, nil
}
