package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/server"
	"github.com/humanos/human/workforce"
)

const testPolicy = `policy: p
rules:
  - id: small
    description: small payments
    actions: ["payments.send"]
    condition: double(request.attributes.amount) <= 100.0
    effect: allow
  - id: large
    description: large payments need finance
    actions: ["payments.send"]
    condition: double(request.attributes.amount) > 100.0
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 1
      timeout: 1h
`

// principal is a signing identity in tests.
type principal struct {
	keyID string
	key   passport.Signer
}

// tenant is one enrolled org with its people, an agent, a delegation, a
// policy and one pending approval task.
type tenant struct {
	org                         string
	admin                       principal
	c                           *human.Client // a remote client acting as the admin
	alice, bob, dave, agent     *passport.Passport
	aliceKey, bobKey, daveKey   *passport.Ed25519Signer
	agentKey                    *passport.Ed25519Signer
	dlg                         *passport.Delegation
	task                        *workforce.Task
	aliceP, bobP, daveP, agentP principal
}

type env struct {
	srv  *server.Server
	base string
	a, b *tenant
}

func newServer(t testing.TB, cfg server.Config) (*server.Server, string) {
	t.Helper()
	return newServerIn(t, t.TempDir(), cfg, true)
}

// newServerIn starts a server on dir; with cleanup false it lives for the
// rest of the process (the fuzz target shares one).
func newServerIn(t testing.TB, dir string, cfg server.Config, cleanup bool) (*server.Server, string) {
	cfg.Library.DataDir = dir
	if cfg.Library.Store == "" {
		cfg.Library.Store = "sqlite://" + dir + "/human.db"
	}
	cfg.OpenEnrollment = true
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	if cleanup {
		t.Cleanup(func() {
			hs.Close()
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	return s, hs.URL
}

func gen(t testing.TB) *passport.Ed25519Signer {
	k, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTenant(t testing.TB, base, org string) *tenant {
	t.Helper()
	return newTenantC(t, base, org, true)
}

func newTenantC(t testing.TB, base, org string, cleanup bool) *tenant {
	t.Helper()
	ctx := context.Background()
	tn := &tenant{org: org}
	key := gen(t)
	tn.admin = principal{wire.AdminKeyID(org, key.PublicKey()), key}
	if err := remote.Enroll(ctx, base, org, key); err != nil {
		t.Fatal(err)
	}
	c, err := human.Open(ctx, human.Config{BaseURL: base, Org: org, OrgSigner: key})
	if err != nil {
		t.Fatal(err)
	}
	if cleanup {
		t.Cleanup(func() { c.Close() })
	}
	tn.c = c
	reg := func(kind passport.Kind, name string) (*passport.Passport, *passport.Ed25519Signer, principal) {
		k := gen(t)
		inc, err := passport.NewInception(kind, name, time.Now(), k)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.RegisterPassport(ctx, inc)
		if err != nil {
			t.Fatal(err)
		}
		return p, k, principal{wire.PassportKeyID(org, p.DID), k}
	}
	tn.alice, tn.aliceKey, tn.aliceP = reg(passport.KindHuman, "alice")
	tn.bob, tn.bobKey, tn.bobP = reg(passport.KindHuman, "bob")
	tn.dave, tn.daveKey, tn.daveP = reg(passport.KindHuman, "dave")
	tn.agent, tn.agentKey, tn.agentP = reg(passport.KindAgent, "bot")
	for _, g := range [][2]string{{tn.bob.DID, "finance.approver"}, {tn.alice.DID, policy.AdminCapability}} {
		if err := c.Grant(ctx, g[0], g[1]); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := passport.Delegate(tn.aliceKey, passport.Delegation{Issuer: tn.alice.DID, Subject: tn.agent.DID,
		Scope: passport.Scope{Actions: []string{"payments.*"}}, NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if tn.dlg, err = c.Delegate(ctx, cert); err != nil {
		t.Fatal(err)
	}
	change, err := policy.SignChange(tn.aliceKey, policy.Change{Org: org, Admin: tn.alice.DID, Filename: "p.yaml", Created: time.Now(), Document: []byte(testPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishPolicy(ctx, change); err != nil {
		t.Fatal(err)
	}
	out, err := c.Call(ctx, human.Request{Agent: tn.agent.DID, Delegation: tn.dlg.ID, Action: "payments.send", Attributes: map[string]any{"amount": 500.0}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != human.Pending {
		t.Fatalf("setup call: %s %s", out.Status, out.Reason)
	}
	tn.task = out.Task
	return tn
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s, base := newServer(t, server.Config{Library: human.Config{Store: "mem://"}})
	return &env{srv: s, base: base, a: newTenant(t, base, "org-a"), b: newTenant(t, base, "org-b")}
}

// send makes one request, signed by p unless p is nil.
func send(t testing.TB, base, method, path string, body []byte, p *principal) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p != nil {
		if err := wire.SignRequest(req, body, p.keyID, p.key, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// problem checks that a response is a 4xx problem+json and returns its code.
func problem(t testing.TB, what string, resp *http.Response, data []byte) string {
	t.Helper()
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var p wire.Problem
	if resp.StatusCode < 400 || resp.StatusCode > 499 || mt != wire.ProblemType || json.Unmarshal(data, &p) != nil || p.Code == "" || p.Status != resp.StatusCode {
		t.Errorf("%s: got %d %s %s, want a 4xx problem+json", what, resp.StatusCode, mt, data)
	}
	return p.Code
}

// matrixCase is one route with a request against org A's objects.
type matrixCase struct {
	method, pattern, path string
	body                  []byte
	// wrongRole is a principal of org A that must be refused; nil when any
	// principal of the org may use the route.
	wrongRole *principal
	// ownNamespace: org B's admin may use the route, but only ever sees and
	// changes org B's namespace.
	ownNamespace bool
}

func (e *env) matrix(t testing.TB) []matrixCase {
	a := e.a
	fresh, err := passport.NewInception(passport.KindHuman, "eve", time.Now(), gen(t))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := passport.Delegate(a.aliceKey, passport.Delegation{Issuer: a.alice.DID, Subject: a.agent.DID,
		Scope: passport.Scope{Actions: []string{"payments.send"}}, NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour)})
	next := gen(t)
	rotation, err := passport.RotateKeys(a.daveKey, a.dave, time.Now(), next)
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := passport.Revoke(a.aliceKey, a.alice.DID, a.dlg.ID, "test", time.Now())
	change, _ := policy.SignChange(a.aliceKey, policy.Change{Org: a.org, Admin: a.alice.DID, Filename: "p.yaml", Base: 1, Created: time.Now(), Document: []byte(testPolicy)})
	activate, _ := policy.SignChange(a.aliceKey, policy.Change{Org: a.org, Admin: a.alice.DID, Activate: 1, Base: 1, Created: time.Now()})
	vote, _ := workforce.SignVote(a.bobKey, a.bob.DID, a.task, "approve", time.Now())
	away, err := workforce.SignAvailability(a.bobKey, workforce.Availability{Org: a.org, Human: a.bob.DID, Away: true, Until: time.Now().Add(time.Hour), Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	skill, err := capability.SignClaim(a.aliceKey, capability.Claim{ID: "matrix-skill", Org: a.org, Kind: capability.ClaimSkill,
		Issuer: a.alice.DID, Subject: a.alice.DID, Object: "skill.sepa", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	holding := "?subject=" + url.QueryEscape(a.bob.DID) + "&capability=finance.approver"
	return []matrixCase{
		{"POST", "/v1/capabilities/claims", "/v1/capabilities/claims", mustJSON(t, wire.PassportBody{Envelope: skill}), &a.daveP, false},
		{"GET", "/v1/capabilities/evidence", "/v1/capabilities/evidence" + holding, nil, &a.daveP, true},
		{"GET", "/v1/capabilities/holds", "/v1/capabilities/holds" + holding, nil, &a.daveP, true},
		{"POST", "/v1/orgs", "/v1/orgs", mustJSON(t, wire.Enrollment{Org: "org-a"}), &a.agentP, false},
		// Any principal may open a session for itself; org B's admin gets
		// one of org B (TestAttackSessions covers what a session may do).
		{"POST", "/v1/sessions", "/v1/sessions", nil, nil, true},
		{"POST", "/v1/passport", "/v1/passport", mustJSON(t, wire.PassportBody{Envelope: fresh}), &a.agentP, true},
		{"GET", "/v1/passport/{did}", "/v1/passport/" + a.alice.DID, nil, nil, false},
		{"POST", "/v1/passport/events", "/v1/passport/events", mustJSON(t, wire.PassportBody{Envelope: rotation}), nil, false},
		{"POST", "/v1/passport/delegations", "/v1/passport/delegations", mustJSON(t, wire.PassportBody{Envelope: cert}), &a.daveP, false},
		{"POST", "/v1/passport/revocations", "/v1/passport/revocations", mustJSON(t, wire.PassportBody{Envelope: rev}), &a.daveP, false},
		{"POST", "/v1/capabilities/grants", "/v1/capabilities/grants", mustJSON(t, wire.Grant{Subject: a.dave.DID, Capability: "finance.approver"}), &a.aliceP, true},
		{"POST", "/v1/capabilities/members", "/v1/capabilities/members", mustJSON(t, wire.Member{Member: a.dave.DID, Team: "finance"}), &a.aliceP, true},
		{"POST", "/v1/humanos/policies", "/v1/humanos/policies", mustJSON(t, wire.PassportBody{Envelope: change}), &a.daveP, false},
		{"POST", "/v1/humanos/policies/activations", "/v1/humanos/policies/activations", mustJSON(t, wire.PassportBody{Envelope: activate}), &a.daveP, false},
		{"GET", "/v1/humanos/policies/active", "/v1/humanos/policies/active", nil, nil, true},
		{"GET", "/v1/humanos/policies/latest", "/v1/humanos/policies/latest", nil, nil, true},
		{"POST", "/v1/humanos/decisions", "/v1/humanos/decisions", mustJSON(t, wire.CallRequest{Agent: a.agent.DID, Delegation: a.dlg.ID, Action: "payments.send", Attributes: map[string]any{"amount": 1.0}}), &a.daveP, true},
		{"GET", "/v1/workforce/tasks/{id}", "/v1/workforce/tasks/" + a.task.ID, nil, &a.daveP, false},
		{"GET", "/v1/workforce/tasks/{id}/outcome", "/v1/workforce/tasks/" + a.task.ID + "/outcome", nil, &a.daveP, false},
		{"POST", "/v1/workforce/tasks/{id}/decisions", "/v1/workforce/tasks/" + a.task.ID + "/decisions", mustJSON(t, wire.VoteBody{Vote: vote}), &a.daveP, false},
		{"GET", "/v1/workforce/inbox/{did}", "/v1/workforce/inbox/" + a.bob.DID, nil, &a.daveP, true},
		{"POST", "/v1/workforce/availability", "/v1/workforce/availability", mustJSON(t, wire.PassportBody{Envelope: away}), &a.daveP, false},
		{"POST", "/v1/workforce/tasks/{id}/cancellations", "/v1/workforce/tasks/" + a.task.ID + "/cancellations", mustJSON(t, wire.Cancellation{Reason: "test"}), &a.bobP, false},
		{"GET", "/v1/attestations", "/v1/attestations?limit=5", nil, nil, true},
		{"GET", "/v1/attestations/key", "/v1/attestations/key", nil, nil, true},
		{"POST", "/v1/attestations", "/v1/attestations", mustJSON(t, wire.Entry{Entry: []byte("note")}), &a.aliceP, true},
		{"GET", "/v1/attestations/checkpoint", "/v1/attestations/checkpoint", nil, nil, true},
		{"GET", "/v1/attestations/receipts/{index}", "/v1/attestations/receipts/0", nil, nil, true},
		{"GET", "/v1/attestations/entries/{index}", "/v1/attestations/entries/0", nil, &a.aliceP, true},
		{"GET", "/v1/attestations/proofs/consistency", "/v1/attestations/proofs/consistency?old=1&new=2", nil, nil, true},
	}
}

// TestAttackAuthMatrix: invariant 7 and the route access rules. Every
// signed route × {no credential, wrong org, wrong role}: refused with a
// 4xx problem+json, and org A's ledger is not touched by org B.
func TestAttackAuthMatrix(t *testing.T) {
	e := newEnv(t)
	cases := e.matrix(t)
	var signed []string
	for _, r := range e.srv.Routes() {
		if strings.Contains(r, " /v1/") && !strings.HasSuffix(r, "/openapi.json") {
			signed = append(signed, r)
		}
	}
	var covered []string
	for _, tc := range cases {
		covered = append(covered, tc.method+" "+tc.pattern)
	}
	slices.Sort(signed)
	slices.Sort(covered)
	if !slices.Equal(signed, covered) {
		t.Fatalf("matrix does not cover every signed route:\nroutes  %v\nmatrix  %v", signed, covered)
	}
	ctx := context.Background()
	cpA := func() uint64 {
		resp, data := send(t, e.base, "GET", "/v1/attestations/checkpoint", nil, &e.a.admin)
		var cp wire.Checkpoint
		if resp.StatusCode != 200 || json.Unmarshal(data, &cp) != nil {
			t.Fatalf("checkpoint: %d %s", resp.StatusCode, data)
		}
		return cp.Size
	}
	sizeA := cpA()
	for _, tc := range cases {
		name := tc.method + " " + tc.pattern
		// No credential.
		resp, data := send(t, e.base, tc.method, tc.path, tc.body, nil)
		if code := problem(t, name+" without credential", resp, data); code != wire.CodeMissingSignature {
			t.Errorf("%s without credential: code %s", name, code)
		}
		// Wrong org: org B's admin.
		resp, data = send(t, e.base, tc.method, tc.path, tc.body, &e.b.admin)
		switch {
		case tc.ownNamespace && resp.StatusCode < 300:
			if bytes.Contains(data, []byte(e.a.org)) || bytes.Contains(data, []byte(e.a.c.LedgerKey())) {
				t.Errorf("%s as org B: answer mentions org A: %s", name, data)
			}
		default:
			problem(t, name+" as org B", resp, data)
		}
		// Wrong role inside org A.
		if tc.wrongRole != nil {
			resp, data = send(t, e.base, tc.method, tc.path, tc.body, tc.wrongRole)
			code := problem(t, name+" with the wrong role", resp, data)
			if code != wire.CodeWrongRole && code != wire.CodeBadSignature {
				t.Errorf("%s with the wrong role: code %s", name, code)
			}
		}
	}
	if got := cpA(); got != sizeA {
		t.Errorf("org A's ledger grew from %d to %d under refused and foreign requests", sizeA, got)
	}
	// Org B's remote client sees none of org A's objects.
	if _, err := e.b.c.Task(ctx, e.a.task.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("org B reading org A's task: %v, want ErrNotFound", err)
	}
}

// TestAttackSignatures: tampered, replayed, stale, forged and malformed
// signatures are refused before anything changes.
func TestAttackSignatures(t *testing.T) {
	e := newEnv(t)
	a := e.a
	body := mustJSON(t, wire.Grant{Subject: a.dave.DID, Capability: "x.y"})
	sign := func(method, path string, body []byte, p principal, at time.Time) *http.Request {
		req, _ := http.NewRequest(method, e.base+path, bytes.NewReader(body))
		if err := wire.SignRequest(req, body, p.keyID, p.key, at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	do := func(req *http.Request, body []byte) (*http.Response, []byte) {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, data
	}
	// Replay: the same signed request twice.
	req := sign("POST", "/v1/capabilities/grants", body, a.admin, time.Now())
	if resp, data := do(req, body); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("first send: %d %s", resp.StatusCode, data)
	}
	req2 := sign("POST", "/v1/capabilities/grants", body, a.admin, time.Now())
	req2.Header = req.Header.Clone()
	if resp, data := do(req2, body); problem(t, "replay", resp, data) != wire.CodeReplayed {
		t.Errorf("replay: %s", data)
	}
	forged := gen(t)
	for _, tc := range []struct {
		name string
		req  func() (*http.Request, []byte)
		want string
	}{
		{"body changed after signing", func() (*http.Request, []byte) {
			return sign("POST", "/v1/capabilities/grants", body, a.admin, time.Now()), mustJSON(t, wire.Grant{Subject: a.dave.DID, Capability: "root"})
		}, wire.CodeBadSignature},
		{"path changed after signing", func() (*http.Request, []byte) {
			r := sign("POST", "/v1/capabilities/members", body, a.admin, time.Now())
			r.URL.Path = "/v1/capabilities/grants"
			return r, body
		}, wire.CodeBadSignature},
		{"created 10 minutes ago", func() (*http.Request, []byte) {
			return sign("POST", "/v1/capabilities/grants", body, a.admin, time.Now().Add(-10*time.Minute)), body
		}, wire.CodeStaleSignature},
		{"an unknown key claiming to be the admin", func() (*http.Request, []byte) {
			return sign("POST", "/v1/capabilities/grants", body, principal{wire.AdminKeyID(a.org, forged.PublicKey()), forged}, time.Now()), body
		}, wire.CodeBadSignature},
		{"the admin's key id, another key", func() (*http.Request, []byte) {
			return sign("POST", "/v1/capabilities/grants", body, principal{a.admin.keyID, forged}, time.Now()), body
		}, wire.CodeBadSignature},
		{"a passport key id, another key", func() (*http.Request, []byte) {
			return sign("GET", "/v1/attestations/key", nil, principal{a.bobP.keyID, a.daveKey}, time.Now()), nil
		}, wire.CodeBadSignature},
		{"an org that does not exist", func() (*http.Request, []byte) {
			return sign("GET", "/v1/attestations/key", nil, principal{wire.AdminKeyID("nobody", forged.PublicKey()), forged}, time.Now()), nil
		}, wire.CodeBadSignature},
		{"garbage signature headers", func() (*http.Request, []byte) {
			r, _ := http.NewRequest("GET", e.base+"/v1/attestations/key", nil)
			r.Header.Set("Signature-Input", `sig1=("@method");keyid="x"`)
			r.Header.Set("Signature", "sig1=:AAAA:")
			return r, nil
		}, wire.CodeBadSignature},
	} {
		r, b := tc.req()
		resp, data := do(r, b)
		if code := problem(t, tc.name, resp, data); code != tc.want {
			t.Errorf("%s: code %s, want %s", tc.name, code, tc.want)
		}
	}
	// Only the first grant happened.
	if resp, data := send(t, e.base, "GET", "/v1/attestations/key", nil, &a.admin); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
}

// TestBadInput: unknown routes, wrong methods, oversized bodies, malformed
// JSON and unknown fields are 4xx problem+json with stable codes.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	a := &e.a.admin
	big := append([]byte(`{"entry":"`), bytes.Repeat([]byte("A"), wire.MaxBody)...)
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		p                  *principal
		want               string
	}{
		{"unknown route", "GET", "/v1/nothing", nil, nil, wire.CodeUnknownRoute},
		{"unknown route, signed", "GET", "/v2/passport", nil, a, wire.CodeUnknownRoute},
		{"wrong method", "DELETE", "/v1/passport", nil, a, wire.CodeMethodNotAllowed},
		{"wrong method on health", "POST", "/health", nil, nil, wire.CodeMethodNotAllowed},
		{"oversized body", "POST", "/v1/attestations", big, a, wire.CodeBodyTooLarge},
		{"malformed JSON", "POST", "/v1/capabilities/grants", []byte(`{"subject":`), a, wire.CodeMalformedJSON},
		{"two JSON values", "POST", "/v1/capabilities/grants", []byte(`{} {}`), a, wire.CodeMalformedJSON},
		{"wrong type", "POST", "/v1/capabilities/grants", []byte(`{"subject":1}`), a, wire.CodeMalformedJSON},
		{"unknown field", "POST", "/v1/capabilities/grants", []byte(`{"subject":"x","capability":"y","org":"org-b"}`), a, wire.CodeUnknownField},
		{"empty body", "POST", "/v1/humanos/decisions", []byte(``), a, wire.CodeMalformedJSON},
		{"null envelope", "POST", "/v1/passport", []byte(`{"envelope":null}`), a, wire.CodeInvalidArgument},
		{"bad index", "GET", "/v1/attestations/receipts/x", nil, a, wire.CodeInvalidArgument},
		{"bad wait", "GET", "/v1/workforce/tasks/" + e.a.task.ID + "/outcome?wait=forever", nil, a, wire.CodeInvalidArgument},
		{"unknown task", "GET", "/v1/workforce/tasks/tsk_nothing", nil, a, wire.CodeNotFound},
	} {
		resp, data := send(t, e.base, tc.method, tc.path, tc.body, tc.p)
		if code := problem(t, tc.name, resp, data); code != tc.want {
			t.Errorf("%s: code %s, want %s (%s)", tc.name, code, tc.want, data)
		}
	}
}

// TestRateAndConcurrencyLimits: a principal over its rate gets 429
// rate_limited; another principal is unaffected.
func TestRateAndConcurrencyLimits(t *testing.T) {
	s, base := newServer(t, server.Config{Library: human.Config{Store: "mem://"}, Rate: 1, Burst: 2})
	_ = s
	tn := newTenantMinimal(t, base, "org-r")
	var limited int
	for range 5 {
		resp, data := send(t, base, "GET", "/v1/attestations/key", nil, &tn)
		if resp.StatusCode == http.StatusTooManyRequests {
			if problem(t, "over rate", resp, data) != wire.CodeRateLimited || resp.Header.Get("Retry-After") == "" {
				t.Errorf("over rate: %s", data)
			}
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("five requests at once with rate 1/s burst 2: none limited")
	}
	other := newTenantMinimal(t, base, "org-s")
	if resp, data := send(t, base, "GET", "/v1/attestations/key", nil, &other); resp.StatusCode != 200 {
		t.Fatalf("another principal: %d %s", resp.StatusCode, data)
	}
}

func newTenantMinimal(t testing.TB, base, org string) principal {
	k := gen(t)
	if err := remote.Enroll(context.Background(), base, org, k); err != nil {
		t.Fatal(err)
	}
	return principal{wire.AdminKeyID(org, k.PublicKey()), k}
}

// TestEnrollment: an org is created once; closed enrollment refuses.
func TestEnrollment(t *testing.T) {
	_, base := newServer(t, server.Config{Library: human.Config{Store: "mem://"}})
	k := gen(t)
	ctx := context.Background()
	if err := remote.Enroll(ctx, base, "acme", k); err != nil {
		t.Fatal(err)
	}
	if err := remote.Enroll(ctx, base, "acme", gen(t)); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("second enrollment of acme: %v, want ErrConflict", err)
	}
	if err := remote.Enroll(ctx, base, "Bad Org", gen(t)); err == nil {
		t.Fatal("enrolled an invalid org name")
	}
	dir := t.TempDir()
	closed, err := server.New(ctx, server.Config{Library: human.Config{Store: "mem://", DataDir: dir},
		Admins: map[string][]passport.PublicKey{"ops": {k.PublicKey()}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(closed.Handler())
	defer func() { hs.Close(); closed.Close() }()
	if err := remote.Enroll(ctx, hs.URL, "newco", gen(t)); !errors.Is(err, errs.ErrPermissionDenied) {
		t.Fatalf("closed enrollment: %v, want ErrPermissionDenied", err)
	}
	c, err := human.Open(ctx, human.Config{BaseURL: hs.URL, Org: "ops", OrgSigner: k})
	if err != nil {
		t.Fatalf("operator-configured admin: %v", err)
	}
	c.Close()
}

// TestOperations: health, readiness and metrics answer without credentials.
func TestOperations(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/health", "/ready", "/metrics", "/v1/openapi.json"} {
		resp, data := send(t, e.base, "GET", path, nil, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, data)
		}
		if path == "/metrics" && !bytes.Contains(data, []byte("human_http_requests_total")) {
			t.Errorf("/metrics lacks human_http_requests_total")
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", path)
		}
	}
}

// TestOpenAPIMatchesRoutes: the document in api/openapi.json and the
// server's routes name the same operations.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	data, err := os.ReadFile("../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+path)
		}
	}
	s, _ := newServer(t, server.Config{Library: human.Config{Store: "mem://"}})
	node, _ := newServer(t, server.Config{Role: server.RoleLedger, Library: human.Config{Store: "mem://"}})
	routes := s.Routes()
	for _, r := range node.Routes() { // the ledger role's own routes
		if !slices.Contains(routes, r) {
			routes = append(routes, r)
		}
	}
	slices.Sort(documented)
	slices.Sort(routes)
	if !slices.Equal(documented, routes) {
		t.Errorf("document and routes disagree:\ndocument %v\nroutes   %v", documented, routes)
	}
	// Every problem code the server can send is in the document's enum.
	for _, c := range wire.Codes() {
		if !regexp.MustCompile(`"` + c + `"`).Match(data) {
			t.Errorf("problem code %s is not documented", c)
		}
	}
}

// TestLongPollAndDrain: a waiting client is answered when the task
// resolves; Drain ends long polls at once as still pending.
func TestLongPollAndDrain(t *testing.T) {
	e := newEnv(t)
	a := e.a
	ctx := context.Background()
	o, err := a.c.Resume(ctx, a.task.ID)
	if err != nil || o.Status != human.Pending {
		t.Fatalf("resume: %v %v", o, err)
	}
	done := make(chan *human.Outcome, 1)
	go func() {
		final, err := o.Wait(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- final
	}()
	time.Sleep(100 * time.Millisecond)
	vote, _ := workforce.SignVote(a.bobKey, a.bob.DID, a.task, "approve", time.Now())
	if _, err := a.c.Decide(ctx, a.task.ID, vote); err != nil {
		t.Fatal(err)
	}
	select {
	case final := <-done:
		if final.Status != human.Allowed {
			t.Fatalf("final %s: %s", final.Status, final.Reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not return after the approval")
	}
	// Drain: a poll on another pending task returns at once, still pending.
	out, err := e.b.c.Call(ctx, human.Request{Agent: e.b.agent.DID, Delegation: e.b.dlg.ID, Action: "payments.send", Attributes: map[string]any{"amount": 700.0}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Drain()
	resp, data := send(t, e.base, "GET", "/v1/workforce/tasks/"+out.Task.ID+"/outcome?wait=20s", nil, &e.b.admin)
	var w wire.Outcome
	if resp.StatusCode != 200 || json.Unmarshal(data, &w) != nil || w.Status != string(human.Pending) {
		t.Fatalf("poll while draining: %d %s", resp.StatusCode, data)
	}
}

// TestRemoteErrors: errors keep their errs sentinel across the wire.
func TestRemoteErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.a.c.Task(ctx, "tsk_missing"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("missing task: %v", err)
	}
	vote, _ := workforce.SignVote(e.a.daveKey, e.a.dave.DID, e.a.task, "approve", time.Now())
	if _, err := e.a.c.Decide(ctx, e.a.task.ID, vote); !errors.Is(err, errs.ErrPermissionDenied) {
		t.Errorf("vote by a non-holder: %v", err)
	}
	if _, err := e.a.c.Call(ctx, human.Request{Agent: "x"}); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Errorf("malformed call: %v", err)
	}
	if _, err := human.Open(ctx, human.Config{BaseURL: e.base, Org: e.a.org, OrgSigner: gen(t)}); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("unknown admin key: %v", err)
	}
	if _, err := human.Open(ctx, human.Config{BaseURL: "http://127.0.0.1:1", Org: "x", OrgSigner: gen(t)}); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("no server: %v", err)
	}
}
