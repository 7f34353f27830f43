package human_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

func signClaim(t *testing.T, w *world, s passport.Signer, c capability.Claim) *passport.Envelope {
	t.Helper()
	if c.Org == "" {
		c.Org = w.c.Org()
	}
	c.Created = time.Now()
	env, err := capability.SignClaim(s, c)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestCapabilityClaims: signed claims by the org and by an admin change
// the graph and are attested; a role reached by claims lets its holder
// approve; the approval becomes evidence on the approver's holding;
// forged, misdirected and replayed claims are refused and change nothing.
// In the server profiles the claims go through POST
// /v1/capabilities/claims and the checks through the server, with the
// same results. The org's authority is its signer key where the client
// holds it (embedded), else a registered org passport (the server keeps
// the org's signer key to itself).
func TestCapabilityClaims(t *testing.T) {
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := setup(t, profile(t))
			orgID := w.c.Org()
			orgKey := w.c.OrgClaimSigner()
			org := capability.OrgIssuer(orgID)
			if orgKey == nil { // the stores run on a server
				k, _ := passport.GenerateEd25519()
				inc, err := passport.NewInception(passport.KindOrg, "acme", time.Now(), k)
				if err != nil {
					t.Fatal(err)
				}
				p, err := w.c.RegisterPassport(ctx, inc)
				if err != nil {
					t.Fatal(err)
				}
				orgKey, org = k, p.DID
			}
			sign := func(s passport.Signer, c capability.Claim) *passport.Envelope { return signClaim(t, w, s, c) }
			first := sign(orgKey, capability.Claim{ID: "c-admin", Kind: capability.ClaimGrant, Issuer: org, Subject: w.carol.DID, Object: capability.AdminCapability})
			res, err := w.c.Claim(ctx, first)
			if err != nil {
				t.Fatal(err)
			}
			if res.Claim.ID != "c-admin" || res.Claim.Subject != w.carol.DID {
				t.Fatalf("applied claim %+v", res.Claim)
			}
			if err := human.VerifyReceipt(res.Receipt, w.c.LedgerKey()); err != nil {
				t.Fatal(err)
			}
			// Carol (now an admin) defines a role and gives it to Dave.
			for _, c := range []capability.Claim{
				{ID: "c-role", Kind: capability.ClaimRoleGrant, Issuer: w.carol.DID, Subject: "controller", Object: "finance.approver", Level: 2},
				{ID: "c-dave", Kind: capability.ClaimRole, Issuer: w.carol.DID, Subject: w.dave.DID, Object: "controller"},
			} {
				if _, err := w.c.Claim(ctx, sign(w.carolKey, c)); err != nil {
					t.Fatalf("claim %s: %v", c.ID, err)
				}
			}
			p, ok, err := w.c.Holds(ctx, w.dave.DID, "finance.approver")
			if err != nil || !ok || p.String() != w.dave.DID+" -has_role-> controller -grants-> finance.approver" {
				t.Fatalf("dave: %q, %v, %v", p, ok, err)
			}
			// Dave's own skill.
			if _, err := w.c.Claim(ctx, sign(w.daveKey, capability.Claim{ID: "c-skill", Kind: capability.ClaimSkill, Issuer: w.dave.DID, Subject: w.dave.DID, Object: "skill.sepa"})); err != nil {
				t.Fatal(err)
			}

			// Attacks, against Bob's graph position.
			var before []capability.Holder
			if g := w.c.Capabilities(); g != nil { // embedded: the whole holder list
				if before, err = g.Holders(ctx, orgID, "finance.approver"); err != nil {
					t.Fatal(err)
				}
			}
			grantBob := capability.Claim{ID: "x1", Kind: capability.ClaimGrant, Issuer: w.dave.DID, Subject: w.dave.DID, Object: capability.AdminCapability}
			unsigned := sign(w.daveKey, grantBob)
			unsigned.Signatures = nil
			cross := grantBob
			cross.Org, cross.Issuer = "other-org", capability.OrgIssuer("other-org")
			forSomeoneElse := capability.Claim{ID: "x2", Kind: capability.ClaimSkill, Issuer: w.dave.DID, Subject: w.bob.DID, Object: "skill.sepa"}
			for _, tc := range []struct {
				name string
				env  *passport.Envelope
				want error
			}{
				{"unsigned", unsigned, errs.ErrUnauthenticated},
				{"non-admin", sign(w.daveKey, grantBob), errs.ErrPermissionDenied},
				{"skill for someone else", sign(w.daveKey, forSomeoneElse), errs.ErrPermissionDenied},
				{"cross-org", sign(orgKey, cross), errs.ErrPermissionDenied},
				{"replayed", first, errs.ErrConflict},
			} {
				if _, err := w.c.Claim(ctx, tc.env); !errors.Is(err, tc.want) {
					t.Fatalf("%s claim: %v, want %v", tc.name, err, tc.want)
				}
			}
			if g := w.c.Capabilities(); g != nil {
				after, err := g.Holders(ctx, orgID, "finance.approver")
				if err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
					t.Fatalf("holders changed by refused claims: %v -> %v (%v)", before, after, err)
				}
			}
			if _, ok, _ := w.c.Holds(ctx, w.dave.DID, capability.AdminCapability); ok {
				t.Fatal("dave became an admin")
			}
			if _, ok, _ := w.c.Holds(ctx, w.bob.DID, "skill.sepa"); ok {
				t.Fatal("bob got a skill dave claimed for him")
			}

			// Dave approves through his role: the vote is evidence on his holding.
			out := w.call(t, "payments.send", "invoice:7", 1200)
			if out.Status != human.Pending {
				t.Fatalf("got %s: %s", out.Status, out.Reason)
			}
			d, err := w.vote(t, w.daveKey, w.dave, out.Task, "approve")
			if err != nil {
				t.Fatal(err)
			}
			ev, err := w.c.CapabilityEvidence(ctx, w.dave.DID, "finance.approver")
			if err != nil {
				t.Fatal(err)
			}
			if len(ev) != 1 || ev[0].Kind != "approval" || ev[0].Task != out.Task.ID || d.Receipt == nil || ev[0].Ref != "ledger:"+strconv.FormatUint(d.Receipt.Index, 10) {
				t.Fatalf("evidence = %+v (receipt %+v)", ev, d.Receipt)
			}
			if ev, err := w.c.CapabilityEvidence(ctx, w.bob.DID, "finance.approver"); err != nil || len(ev) != 0 {
				t.Fatalf("bob's evidence = %+v, %v; want none", ev, err)
			}
		})
	}
}
