package human

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// Attestations runs q on the server and checks every result as the
// embedded Log.Query does: each entry is an attestation signed by the
// org's ledger key (LedgerKey), its fields match q, and, with q.Proofs,
// its receipt proves it at its index against a checkpoint signed by that
// key. A server that returns anything else is errs.ErrUnauthenticated.
func (r *remoteProfile) Attestations(ctx context.Context, q *ledger.Query) (*ledger.Page, error) {
	if q == nil {
		q = &ledger.Query{}
	}
	w, err := r.rc.Attestations(ctx, q)
	if err != nil {
		return nil, err
	}
	key, err := remoteLedgerPublicKey(r.ledgerKey)
	if err != nil {
		return nil, err
	}
	page := &ledger.Page{Next: w.Next}
	if w.Checkpoint != "" {
		page.Checkpoint = []byte(w.Checkpoint)
	}
	for _, f := range w.Attestations {
		env, st, err := ledger.ParseAttestation(f.Entry)
		if err != nil {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: entry %d is not an attestation: %v", f.Index, err)
		}
		if err := env.VerifiedBy(key); err != nil {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: entry %d is not signed by the ledger key: %v", f.Index, err)
		}
		fields := ledger.IndexFields(st)
		if !q.Filter.Match(fields) {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: server returned entry %d, which does not match the query", f.Index)
		}
		if q.Proofs {
			if f.Receipt == nil || f.Receipt.Index != f.Index || !bytes.Equal(f.Receipt.Entry, f.Entry) {
				return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: entry %d has no matching receipt", f.Index)
			}
			if err := VerifyReceipt(f.Receipt, r.ledgerKey); err != nil {
				return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: receipt of entry %d: %w", f.Index, err)
			}
		}
		page.Attestations = append(page.Attestations, &ledger.Attestation{Index: f.Index, Entry: f.Entry,
			Envelope: env, Statement: st, Fields: fields, Receipt: f.Receipt})
	}
	return page, nil
}

// remoteLedgerPublicKey is the Ed25519 key inside a note verifier key
// ("name+hash+base64(0x01 || key)"): the key that signs the ledger's
// attestations and checkpoints.
func remoteLedgerPublicKey(vkey string) (passport.PublicKey, error) {
	if _, err := ledger.NewVerifier(vkey); err != nil {
		return passport.PublicKey{}, err
	}
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return passport.PublicKey{}, errs.Errorf(errs.ErrUnauthenticated, "the server's ledger key is not an Ed25519 note key")
	}
	k := passport.PublicKey{Suite: passport.SuiteEd25519, Key: raw[1:]}
	return k, k.Validate()
}

// SetAvailability relays the signed change to the server and returns it
// as recorded.
func (r *remoteProfile) SetAvailability(ctx context.Context, change *passport.Envelope) (workforce.Availability, error) {
	if _, err := r.rc.SetAvailability(ctx, change); err != nil {
		return workforce.Availability{}, err
	}
	return workforce.DecodeAvailability(change)
}

// Holds reports whether subject holds a capability in this org (directly,
// through teams, roles or the org) and by which path, in every profile:
// in the embedded one it asks the graph (Capabilities().Holds), in the
// hosted one the server. The admin may ask about anyone; a passport
// principal only about itself (errs.ErrPermissionDenied otherwise).
func (c *Client) Holds(ctx context.Context, subject, capabilityName string) (capability.Path, bool, error) {
	if c.remote != nil {
		return c.remote.rc.Holds(ctx, subject, capabilityName)
	}
	return c.graph.Holds(ctx, c.org, subject, capabilityName)
}

// claim relays a signed claim to the server and checks the receipt of
// its attestation against the org's ledger key.
func (r *remoteProfile) claim(ctx context.Context, env *passport.Envelope) (*ClaimResult, error) {
	w, err := r.rc.Claim(ctx, env)
	if err != nil {
		return nil, err
	}
	if w.Receipt != nil {
		if err := VerifyReceipt(w.Receipt, r.ledgerKey); err != nil {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "claim %s: the server's receipt does not verify: %w", w.Claim.ID, err)
		}
	}
	return &ClaimResult{Claim: w.Claim, Receipt: w.Receipt}, nil
}

// remoteCapabilities answers a local policy engine's holds() from the
// server: the remote profile's shadow policies evaluate on the client
// against the server's graph.
type remoteCapabilities struct{ r *remoteProfile }

func (rc remoteCapabilities) Holds(ctx context.Context, org, subject, capabilityName string) (bool, error) {
	if org != rc.r.c.org {
		return false, nil
	}
	_, ok, err := rc.r.rc.Holds(ctx, subject, capabilityName)
	return ok, err
}

// startShadow is StartShadow in the remote profile. The server decides
// every Call; the candidate is compiled and evaluated here, beside the
// decision the server returned, on the same input the server evaluated
// (the request, the verified chain's root and scope, the call's time)
// with holds() answered by the server's graph. Calls that never reached
// policy (an unverified chain, no active policy) are not observed, as in
// the embedded profile.
func (r *remoteProfile) startShadow(filename string, data []byte, opts ...policy.ShadowOption) (*policy.Shadow, error) {
	doc, err := policy.Parse(filename, data)
	if err != nil {
		return nil, err
	}
	r.engineOnce.Do(func() { r.engine, r.engineErr = policy.NewEngine(remoteCapabilities{r}) })
	if r.engineErr != nil {
		return nil, r.engineErr
	}
	p, err := r.engine.Compile(doc)
	if err != nil {
		return nil, err
	}
	s := policy.NewShadow(r.engine, p, opts...)
	r.c.shadow.Store(s)
	return s, nil
}

// observeShadow hands a decided call to the running candidate shadow.
func (r *remoteProfile) observeShadow(req Request, out *Outcome, now time.Time) {
	s := r.c.shadow.Load()
	if s == nil || out.Chain == nil || out.Decision.PolicyDigest == "" {
		return
	}
	sc := out.Chain.Scope
	s.Observe(policy.Input{
		Org: r.c.org, Action: req.Action, Resource: req.Resource, Attributes: req.Attributes,
		Agent: req.Agent, Requester: out.Chain.Root, Now: now,
		AgentScope: policy.Scope{Actions: sc.Actions, Resources: sc.Resources, Limits: sc.Limits},
	}, out.Decision)
}
