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

func signClaim(t *testing.T, s passport.Signer, c capability.Claim) *passport.Envelope {
	t.Helper()
	if c.Org == "" {
		c.Org = human.DefaultOrg
	}
	c.Created = time.Now()
	env, err := capability.SignClaim(s, c)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestCapabilityClaims: signed claims by the org signer and by an admin
// change the graph and are attested; a role reached by claims lets its
// holder approve; the approval becomes evidence on the approver's holding;
// forged, misdirected and replayed claims are refused and change nothing.
func TestCapabilityClaims(t *testing.T) {
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := setup(t, profile(t))
			orgKey := w.c.OrgClaimSigner()
			if orgKey == nil { // a profile whose stores run on a server
				k, _ := passport.GenerateEd25519()
				env := signClaim(t, k, capability.Claim{ID: "c", Kind: capability.ClaimGrant, Issuer: w.alice.DID, Subject: w.dave.DID, Object: "x"})
				if _, err := w.c.Claim(ctx, env); !errors.Is(err, errs.ErrFailedPrecondition) {
					t.Fatalf("Claim without local stores = %v, want ErrFailedPrecondition", err)
				}
				t.Skip("claims are not served by the hosted profile yet")
			}
			org := capability.OrgIssuer(human.DefaultOrg)
			first := signClaim(t, orgKey, capability.Claim{ID: "c-admin", Kind: capability.ClaimGrant, Issuer: org, Subject: w.carol.DID, Object: capability.AdminCapability})
			res, err := w.c.Claim(ctx, first)
			if errors.Is(err, errs.ErrFailedPrecondition) && name == "neo4j+s3" {
				t.Skipf("graph store keeps no claim record: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := human.VerifyReceipt(res.Receipt, w.c.LedgerKey()); err != nil {
				t.Fatal(err)
			}
			// Carol (now an admin) defines a role and gives it to Dave.
			for _, c := range []capability.Claim{
				{ID: "c-role", Kind: capability.ClaimRoleGrant, Issuer: w.carol.DID, Subject: "controller", Object: "finance.approver", Level: 2},
				{ID: "c-dave", Kind: capability.ClaimRole, Issuer: w.carol.DID, Subject: w.dave.DID, Object: "controller"},
			} {
				if _, err := w.c.Claim(ctx, signClaim(t, w.carolKey, c)); err != nil {
					t.Fatalf("claim %s: %v", c.ID, err)
				}
			}
			p, ok, err := w.c.Capabilities().Holds(ctx, human.DefaultOrg, w.dave.DID, "finance.approver")
			if err != nil || !ok || p.String() != w.dave.DID+" -has_role-> controller -grants-> finance.approver" {
				t.Fatalf("dave: %q, %v, %v", p, ok, err)
			}
			// Dave's own skill.
			if _, err := w.c.Claim(ctx, signClaim(t, w.daveKey, capability.Claim{ID: "c-skill", Kind: capability.ClaimSkill, Issuer: w.dave.DID, Subject: w.dave.DID, Object: "skill.sepa"})); err != nil {
				t.Fatal(err)
			}

			// Attacks, against Bob's graph position.
			before, err := w.c.Capabilities().Holders(ctx, human.DefaultOrg, "finance.approver")
			if err != nil {
				t.Fatal(err)
			}
			grantBob := capability.Claim{ID: "x1", Kind: capability.ClaimGrant, Issuer: w.dave.DID, Subject: w.dave.DID, Object: capability.AdminCapability}
			unsigned := signClaim(t, w.daveKey, grantBob)
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
				{"non-admin", signClaim(t, w.daveKey, grantBob), errs.ErrPermissionDenied},
				{"skill for someone else", signClaim(t, w.daveKey, forSomeoneElse), errs.ErrPermissionDenied},
				{"cross-org", signClaim(t, orgKey, cross), errs.ErrPermissionDenied},
				{"replayed", first, errs.ErrConflict},
			} {
				if _, err := w.c.Claim(ctx, tc.env); !errors.Is(err, tc.want) {
					t.Fatalf("%s claim: %v, want %v", tc.name, err, tc.want)
				}
			}
			after, err := w.c.Capabilities().Holders(ctx, human.DefaultOrg, "finance.approver")
			if err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("holders changed by refused claims: %v -> %v (%v)", before, after, err)
			}
			if _, ok, _ := w.c.Capabilities().Holds(ctx, human.DefaultOrg, w.dave.DID, capability.AdminCapability); ok {
				t.Fatal("dave became an admin")
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
		})
	}
}
