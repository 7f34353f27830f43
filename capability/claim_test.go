package capability_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// fakeIssuers is a fake issuer resolver (the real one is the passport
// registry, wired in package human): DID -> role and key.
type fakeIssuers map[string]struct {
	role capability.IssuerRole
	key  passport.PublicKey
}

func (f fakeIssuers) Issuer(_ context.Context, _, did string) (capability.IssuerRole, []passport.PublicKey, error) {
	i, ok := f[did]
	if !ok {
		return "", nil, errs.Errorf(errs.ErrNotFound, "no issuer %s", did)
	}
	return i.role, []passport.PublicKey{i.key}, nil
}

type claimWorld struct {
	g                          *capability.Graph
	store                      *memory.GraphStore
	issuers                    fakeIssuers
	org, admin, alice, mallory passport.Signer
}

func newClaimWorld(t *testing.T) *claimWorld {
	t.Helper()
	ctx := context.Background()
	gen := func() passport.Signer {
		s, err := passport.GenerateEd25519()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	w := &claimWorld{store: memory.NewGraphStore(), org: gen(), admin: gen(), alice: gen(), mallory: gen()}
	w.g = capability.NewGraph(w.store, func() time.Time { return t0 })
	w.issuers = fakeIssuers{
		capability.OrgIssuer("org1"): {capability.IssuerOrgRole, w.org.PublicKey()},
		"admin":                      {capability.IssuerHumanRole, w.admin.PublicKey()},
		"alice":                      {capability.IssuerHumanRole, w.alice.PublicKey()},
		"mallory":                    {capability.IssuerHumanRole, w.mallory.PublicKey()},
	}
	for _, n := range []capability.Node{
		{ID: "admin", Kind: capability.Human}, {ID: "alice", Kind: capability.Human}, {ID: "mallory", Kind: capability.Human},
		{ID: "treasury", Kind: capability.Team}, {ID: "controller", Kind: capability.Role},
	} {
		if err := w.g.AddNode(ctx, "org1", n); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.g.Grant(ctx, "org1", "admin", capability.AdminCapability); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *claimWorld) sign(t *testing.T, s passport.Signer, c capability.Claim) *passport.Envelope {
	t.Helper()
	if c.Org == "" {
		c.Org = "org1"
	}
	if c.Created.IsZero() {
		c.Created = t0
	}
	env, err := capability.SignClaim(s, c)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestApplyClaimAuthorities(t *testing.T) {
	ctx := context.Background()
	w := newClaimWorld(t)
	org := capability.OrgIssuer("org1")
	for _, tc := range []struct {
		name   string
		signer func(*claimWorld) passport.Signer
		claim  capability.Claim
		check  [2]string // subject, capability that must now be held
	}{
		{"OrgSignerGrant", func(w *claimWorld) passport.Signer { return w.org },
			capability.Claim{ID: "c1", Kind: capability.ClaimGrant, Issuer: org, Subject: "treasury", Object: "pay.approve", Level: 2}, [2]string{"", ""}},
		{"AdminMembership", func(w *claimWorld) passport.Signer { return w.admin },
			capability.Claim{ID: "c2", Kind: capability.ClaimMember, Issuer: "admin", Subject: "mallory", Object: "treasury"}, [2]string{"mallory", "pay.approve"}},
		{"AdminRoleGrant", func(w *claimWorld) passport.Signer { return w.admin },
			capability.Claim{ID: "c3", Kind: capability.ClaimRoleGrant, Issuer: "admin", Subject: "controller", Object: "ledger.close"}, [2]string{"", ""}},
		{"OrgRoleAssignment", func(w *claimWorld) passport.Signer { return w.org },
			capability.Claim{ID: "c4", Kind: capability.ClaimRole, Issuer: org, Subject: "alice", Object: "controller"}, [2]string{"alice", "ledger.close"}},
		{"SelfSkill", func(w *claimWorld) passport.Signer { return w.alice },
			capability.Claim{ID: "c5", Kind: capability.ClaimSkill, Issuer: "alice", Subject: "alice", Object: "skill.spanish", Level: 3}, [2]string{"alice", "skill.spanish"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := w.g.ApplyClaim(ctx, "org1", w.sign(t, tc.signer(w), tc.claim), w.issuers)
			if err != nil {
				t.Fatalf("ApplyClaim = %v", err)
			}
			if got.ID != tc.claim.ID {
				t.Fatalf("claim = %+v", got)
			}
			if tc.check[0] != "" {
				p, ok, err := w.g.Holds(ctx, "org1", tc.check[0], tc.check[1])
				if err != nil || !ok {
					t.Fatalf("Holds(%s, %s) = %v, %v after the claim", tc.check[0], tc.check[1], ok, err)
				}
				if last := p[len(p)-1]; last.Issuer != tc.claim.Issuer && len(p) == 1 {
					t.Fatalf("edge issuer = %q, want %q", last.Issuer, tc.claim.Issuer)
				}
			}
		})
	}
}

// graphSnapshot renders everything an attack could have changed.
func graphSnapshot(t *testing.T, w *claimWorld) string {
	t.Helper()
	ctx := context.Background()
	gen, err := w.store.Generation(ctx, "org1")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := w.g.Holders(ctx, "org1", "pay.approve")
	if err != nil {
		t.Fatal(err)
	}
	return fmtAny(gen, hs)
}

func fmtAny(v ...any) string { return fmt.Sprint(v...) }

// TestAttackClaims: each forged, misdirected or replayed claim is refused
// with its error kind and changes nothing in the graph.
func TestAttackClaims(t *testing.T) {
	ctx := context.Background()
	w := newClaimWorld(t)
	org := capability.OrgIssuer("org1")
	// One legitimate claim, to replay below.
	good := w.sign(t, w.org, capability.Claim{ID: "good", Kind: capability.ClaimGrant, Issuer: org, Subject: "alice", Object: "pay.approve"})
	if _, err := w.g.ApplyClaim(ctx, "org1", good, w.issuers); err != nil {
		t.Fatal(err)
	}
	grantMallory := capability.Claim{ID: "x", Kind: capability.ClaimGrant, Issuer: org, Subject: "mallory", Object: "pay.approve"}
	unsigned := w.sign(t, w.org, grantMallory)
	unsigned.Signatures = nil
	forgedOrg := w.sign(t, w.mallory, grantMallory) // claims the org as issuer, signed by mallory
	nonAdmin := grantMallory
	nonAdmin.Issuer = "mallory"
	skillForOther := capability.Claim{ID: "s", Kind: capability.ClaimSkill, Issuer: "alice", Subject: "mallory", Object: "pay.approve"}
	skillByAdmin := capability.Claim{ID: "s2", Kind: capability.ClaimSkill, Issuer: "admin", Subject: "mallory", Object: "pay.approve"}
	selfApprover := capability.Claim{ID: "s3", Kind: capability.ClaimSkill, Issuer: "mallory", Subject: "mallory", Object: "pay.approve"}
	selfAdmin := capability.Claim{ID: "s4", Kind: capability.ClaimSkill, Issuer: "mallory", Subject: "mallory", Object: capability.AdminCapability}
	crossOrg := grantMallory
	crossOrg.Org = "org2"
	crossOrg.Issuer = capability.OrgIssuer("org2")
	tampered := w.sign(t, w.org, grantMallory)
	tampered.Payload = []byte(string(tampered.Payload[:len(tampered.Payload)-1]) + " }")
	unknownIssuer := grantMallory
	unknownIssuer.Issuer = "nobody"

	for _, tc := range []struct {
		name string
		env  *passport.Envelope
		want error
	}{
		{"Unsigned", unsigned, errs.ErrUnauthenticated},
		{"ForgedOrgIssuer", forgedOrg, errs.ErrUnauthenticated},
		{"TamperedPayload", tampered, errs.ErrUnauthenticated},
		{"SignedByNonAdmin", w.sign(t, w.mallory, nonAdmin), errs.ErrPermissionDenied},
		{"SkillForSomeoneElse", w.sign(t, w.alice, skillForOther), errs.ErrPermissionDenied},
		{"SkillSignedByAdminForAnother", w.sign(t, w.admin, skillByAdmin), errs.ErrPermissionDenied},
		{"SelfSkillOutsideSkillNamespace", w.sign(t, w.mallory, selfApprover), errs.ErrPermissionDenied},
		{"SelfSkillAdmin", w.sign(t, w.mallory, selfAdmin), errs.ErrPermissionDenied},
		{"CrossOrg", w.sign(t, w.org, crossOrg), errs.ErrPermissionDenied},
		{"UnknownIssuer", w.sign(t, w.mallory, unknownIssuer), errs.ErrNotFound},
		{"Replayed", good, errs.ErrConflict},
		{"WrongPayloadType", &passport.Envelope{PayloadType: "application/json", Payload: good.Payload, Signatures: good.Signatures}, errs.ErrInvalidArgument},
		{"Nil", nil, errs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := graphSnapshot(t, w)
			_, err := w.g.ApplyClaim(ctx, "org1", tc.env, w.issuers)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ApplyClaim = %v, want %v", err, tc.want)
			}
			if after := graphSnapshot(t, w); after != before {
				t.Fatalf("graph changed by a refused claim:\nbefore %s\nafter  %s", before, after)
			}
			for _, c := range []string{"pay.approve", capability.AdminCapability} {
				if _, ok, _ := w.g.Holds(ctx, "org1", "mallory", c); ok {
					t.Fatalf("mallory holds %s", c)
				}
			}
		})
	}
	// An admin whose admin capability lapsed is a non-admin.
	if err := w.g.RemoveEdge(ctx, "org1", "admin", capability.Holds, capability.AdminCapability); err != nil {
		t.Fatal(err)
	}
	adminGrant := grantMallory
	adminGrant.ID, adminGrant.Issuer = "late", "admin"
	if _, err := w.g.ApplyClaim(ctx, "org1", w.sign(t, w.admin, adminGrant), w.issuers); !errors.Is(err, errs.ErrPermissionDenied) {
		t.Fatalf("claim by a former admin = %v, want ErrPermissionDenied", err)
	}
}

// An ill-formed claim (a membership in a capability) is refused before its
// ID is spent: the corrected claim may reuse it.
func TestApplyClaimIllFormedDoesNotSpendID(t *testing.T) {
	ctx := context.Background()
	w := newClaimWorld(t)
	org := capability.OrgIssuer("org1")
	bad := capability.Claim{ID: "c", Kind: capability.ClaimMember, Issuer: org, Subject: "alice", Object: capability.AdminCapability}
	if _, err := w.g.ApplyClaim(ctx, "org1", w.sign(t, w.org, bad), w.issuers); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("membership in a capability = %v, want ErrInvalidArgument", err)
	}
	fixed := bad
	fixed.Object = "treasury"
	if _, err := w.g.ApplyClaim(ctx, "org1", w.sign(t, w.org, fixed), w.issuers); err != nil {
		t.Fatalf("corrected claim with the same ID = %v", err)
	}
}

func TestApplyClaimNeedsClaimStore(t *testing.T) {
	w := newClaimWorld(t)
	g := capability.NewGraph(struct{ capability.Store }{w.store}, nil) // hides ClaimStore
	env := w.sign(t, w.org, capability.Claim{ID: "c", Kind: capability.ClaimGrant, Issuer: capability.OrgIssuer("org1"), Subject: "alice", Object: "x"})
	if _, err := g.ApplyClaim(context.Background(), "org1", env, w.issuers); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("ApplyClaim without a ClaimStore = %v, want ErrFailedPrecondition", err)
	}
}

func TestEvidence(t *testing.T) {
	ctx := context.Background()
	w := newClaimWorld(t)
	ev := capability.Evidence{Kind: "approval", Ref: "ledger:7", Task: "t1", At: t0}
	if err := w.g.AddEvidence(ctx, "org1", "alice", "pay.approve", ev); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("evidence for a capability not held = %v, want ErrFailedPrecondition", err)
	}
	if err := w.g.AddMember(ctx, "org1", "alice", "treasury"); err != nil {
		t.Fatal(err)
	}
	if err := w.g.Grant(ctx, "org1", "treasury", "pay.approve"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second is a retried hook: no-op
		if err := w.g.AddEvidence(ctx, "org1", "alice", "pay.approve", ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []capability.Evidence{{Ref: "r", At: t0}, {Kind: "k", At: t0}, {Kind: "k", Ref: "r"}, {Kind: "k", Ref: "a b", At: t0}} {
		if err := w.g.AddEvidence(ctx, "org1", "alice", "pay.approve", bad); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Fatalf("AddEvidence(%+v) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	got, err := w.g.Evidence(ctx, "org1", "alice", "pay.approve")
	if err != nil || len(got) != 1 || got[0] != ev {
		t.Fatalf("Evidence = %+v, %v", got, err)
	}
}

func FuzzDecodeClaim(f *testing.F) {
	s, err := passport.GenerateEd25519()
	if err != nil {
		f.Fatal(err)
	}
	env, err := capability.SignClaim(s, capability.Claim{ID: "c", Org: "o", Kind: capability.ClaimGrant, Issuer: "i", Subject: "a", Object: "b", Created: t0})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env.Payload)
	f.Add([]byte(`{"id":"c","org":"o","kind":"skill","issuer":"a","subject":"a","object":"b","created":"2030-01-01T00:00:00Z","evidence":["x"]}`))
	f.Add([]byte(`{"id":"c"} {}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := capability.DecodeClaim(&passport.Envelope{PayloadType: capability.ClaimType, Payload: payload})
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("error %v is not ErrInvalidArgument", err)
			}
			return
		}
		// A decoded claim re-signs and decodes to itself.
		env, err := capability.SignClaim(s, c)
		if err != nil {
			t.Fatalf("SignClaim(decoded %+v) = %v", c, err)
		}
		c2, err := capability.DecodeClaim(env)
		if err != nil || c2.ID != c.ID || c2.Kind != c.Kind || c2.Subject != c.Subject || !c2.Created.Equal(c.Created) {
			t.Fatalf("round trip: %+v -> %+v, %v", c, c2, err)
		}
	})
}
