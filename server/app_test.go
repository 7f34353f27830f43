package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

const appTestPolicy = `policy: p
rules:
  - id: large
    description: payments over 100 need a finance approver
    actions: ["payments.send"]
    condition: double(request.attributes.amount) > 100.0
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 1
      timeout: 1h
  - id: urgent
    description: urgent payments wait four seconds at most
    actions: ["payments.urgent"]
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 1
      timeout: 4s
`

// appEnv is a server on http://localhost:PORT with two orgs; acme has an
// admin (alice), an agent with a delegation from alice and the policy above.
type appEnv struct {
	s          *Server
	base, port string
	orgs       map[string]*appOrg
}

type appOrg struct {
	c      *human.Client
	alice  *passport.Passport
	agent  *passport.Passport
	dlgID  string
	admin  passport.Signer
	aliceK passport.Signer
}

func newAppEnv(t testing.TB) *appEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := New(ctx, Config{Library: human.Config{DataDir: dir, Store: "sqlite://" + dir + "/human.db"},
		App: AppConfig{OpenRegistration: true}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.Handler()}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	e := &appEnv{s: s, base: "http://localhost:" + port, port: port, orgs: map[string]*appOrg{}}
	for _, org := range []string{"acme", "globex"} {
		e.orgs[org] = e.newOrg(t, org)
	}
	return e
}

func appGen(t testing.TB) *passport.Ed25519Signer {
	k, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (e *appEnv) newOrg(t testing.TB, org string) *appOrg {
	ctx := context.Background()
	o := &appOrg{admin: appGen(t)}
	if err := e.s.enroll(ctx, org, o.admin.PublicKey()); err != nil {
		t.Fatal(err)
	}
	c, err := e.s.client(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	reg := func(kind passport.Kind, name string) (*passport.Passport, passport.Signer) {
		k := appGen(t)
		inc, err := passport.NewInception(kind, name, time.Now(), k)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.RegisterPassport(ctx, inc)
		if err != nil {
			t.Fatal(err)
		}
		return p, k
	}
	o.alice, o.aliceK = reg(passport.KindHuman, "Alice Admin")
	o.agent, _ = reg(passport.KindAgent, "invoice-bot")
	if err := c.Grant(ctx, o.alice.DID, policy.AdminCapability); err != nil {
		t.Fatal(err)
	}
	cert, err := passport.Delegate(o.aliceK, passport.Delegation{Issuer: o.alice.DID, Subject: o.agent.DID,
		Scope: passport.Scope{Actions: []string{"payments.*"}}, NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	dlg, err := c.Delegate(ctx, cert)
	if err != nil {
		t.Fatal(err)
	}
	o.dlgID = dlg.ID
	change, err := policy.SignChange(o.aliceK, policy.Change{Org: org, Admin: o.alice.DID, Filename: "p.yaml", Created: time.Now(), Document: []byte(appTestPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishPolicy(ctx, change); err != nil {
		t.Fatal(err)
	}
	return o
}

// ask makes the agent ask for action; it must be pending approval.
func (o *appOrg) ask(t testing.TB, action, resource string, amount float64) *human.Outcome {
	t.Helper()
	out, err := o.c.Call(context.Background(), human.Request{Agent: o.agent.DID, Delegation: o.dlgID, Action: action,
		Resource: resource, Attributes: map[string]any{"amount": amount}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != human.Pending {
		t.Fatalf("call %s: %s %s", action, out.Status, out.Reason)
	}
	return out
}

// didOf finds the DID the app registered for a person's name.
func (e *appEnv) didOf(t testing.TB, org, name string) string {
	t.Helper()
	a := e.s.appState
	a.creds.mu.Lock()
	defer a.creds.mu.Unlock()
	for _, v := range a.creds.m {
		if v.Org != org {
			continue
		}
		if p, err := e.orgs[org].c.Passports().Get(context.Background(), org, v.DID); err == nil && p.Name == name {
			return v.DID
		}
	}
	t.Fatalf("no passport named %q in %s", name, org)
	return ""
}

// browser is a Go stand-in for a browser with a passkey (virtualwebauthn):
// a cookie jar, the page's CSRF token, and the app's Origin header.
type browser struct {
	t      testing.TB
	e      *appEnv
	hc     *http.Client
	csrf   string
	auth   virtualwebauthn.Authenticator
	cred   virtualwebauthn.Credential
	rp     virtualwebauthn.RelyingParty
	origin string
}

func (e *appEnv) newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, e: e, origin: e.base,
		hc:   &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{}),
		rp:   virtualwebauthn.RelyingParty{Name: "HUMAN", ID: "localhost", Origin: e.base}}
	b.cred = appCredential()
	return b
}

// appCredential makes a P-256 credential with full-width coordinates (see
// passport/passkey's tests: virtualwebauthn drops leading zero bytes).
func appCredential() virtualwebauthn.Credential {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

func (b *browser) do(method, path, ctype string, body string, hdr map[string]string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.e.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := csrfMeta.FindStringSubmatch(string(data)); m != nil {
		b.csrf = m[1]
	}
	return resp, string(data)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do("GET", path, "", "", nil) }

// post sends JSON with the CSRF token and the app's Origin.
func (b *browser) post(path string, v any) (int, map[string]json.RawMessage) {
	b.t.Helper()
	body, _ := json.Marshal(v)
	resp, data := b.do("POST", path, "application/json", string(body), map[string]string{"X-CSRF-Token": b.csrf, "Origin": b.origin})
	var out map[string]json.RawMessage
	_ = json.Unmarshal([]byte(data), &out)
	return resp.StatusCode, out
}

func (b *browser) mustPost(path string, v any) map[string]json.RawMessage {
	b.t.Helper()
	code, out := b.post(path, v)
	if code != http.StatusOK {
		b.t.Fatalf("POST %s: %d %s", path, code, out["error"])
	}
	return out
}

func str(m map[string]json.RawMessage, k string) string {
	var s string
	_ = json.Unmarshal(m[k], &s)
	return s
}

// assert answers request options with the browser's passkey.
func (b *browser) assert(options json.RawMessage) json.RawMessage {
	b.t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		b.t.Fatal(err)
	}
	return json.RawMessage(virtualwebauthn.CreateAssertionResponse(b.rp, b.auth, b.cred, *opts))
}

// register creates a passport for name in org through the web flow.
func (b *browser) register(org, name string) {
	b.t.Helper()
	b.get("/app/register?org=" + org)
	o := b.mustPost("/app/register/options", map[string]string{"org": org, "name": name})
	ao, err := virtualwebauthn.ParseAttestationOptions(string(o["options"]))
	if err != nil {
		b.t.Fatal(err)
	}
	created := virtualwebauthn.CreateAttestationResponse(b.rp, b.auth, b.cred, *ao)
	b.auth.AddCredential(b.cred)
	s := b.mustPost("/app/register/finish", map[string]any{"ceremony": str(o, "ceremony"), "credential": json.RawMessage(created)})
	b.mustPost("/app/register/sign", map[string]any{"ceremony": str(s, "ceremony"), "credential": b.assert(s["options"])})
	b.get("/app/inbox") // the new session's CSRF token
}

func (b *browser) signin(org string) int {
	b.t.Helper()
	b.get("/app/signin")
	code, o := b.post("/app/signin/options", map[string]string{"org": org})
	if code != http.StatusOK {
		return code
	}
	code, _ = b.post("/app/signin/finish", map[string]any{"ceremony": str(o, "ceremony"), "credential": b.assert(o["options"])})
	b.get("/app/inbox")
	return code
}

func (b *browser) vote(task *workforce.Task, verdict string) (int, map[string]json.RawMessage) {
	b.t.Helper()
	b.get("/app/tasks/" + task.ID)
	code, o := b.post("/app/tasks/"+task.ID+"/vote/options", map[string]string{"verdict": verdict, "digest": task.DigestHex()})
	if code != http.StatusOK {
		return code, o
	}
	return b.post("/app/tasks/"+task.ID+"/vote/finish", map[string]any{"ceremony": str(o, "ceremony"), "credential": b.assert(o["options"])})
}

// approver registers a passkey person in org and grants them finance.approver.
func (e *appEnv) approver(t testing.TB, org, name string) (*browser, string) {
	b := e.newBrowser(t)
	b.register(org, name)
	did := e.didOf(t, org, name)
	if err := e.orgs[org].c.Grant(context.Background(), did, "finance.approver"); err != nil {
		t.Fatal(err)
	}
	return b, did
}

// TestAppApproveWithPasskey: the whole flow without a browser: register,
// an agent asks, the approver's signed vote completes the pending call
// with receipts that verify, and history shows a verified receipt.
func TestAppApproveWithPasskey(t *testing.T) {
	e := newAppEnv(t)
	b, _ := e.approver(t, "acme", "Erin")
	out := e.orgs["acme"].ask(t, "payments.send", "invoice:7", 500)
	if _, page := b.get("/app/inbox"); !strings.Contains(page, out.Task.ID) {
		t.Fatalf("inbox does not list the task:\n%s", page)
	}
	_, page := b.get("/app/tasks/" + out.Task.ID + "?org=acme&intent=approve")
	for _, want := range []string{"invoice-bot", "payments.send", "invoice:7", "Alice Admin", "payments over 100 need a finance approver", "Approve", "Deny", "times out"} {
		if !strings.Contains(page, want) {
			t.Errorf("task page lacks %q", want)
		}
	}
	if code, o := b.vote(out.Task, "approve"); code != http.StatusOK || str(o, "state") != "approved" {
		t.Fatalf("vote: %d %s", code, o["error"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, err := out.Wait(ctx)
	if err != nil || !done.Allowed() {
		t.Fatalf("agent outcome %v %v", done, err)
	}
	for _, rc := range done.Receipts {
		if err := human.VerifyReceipt(rc, e.orgs["acme"].c.LedgerKey()); err != nil {
			t.Fatal(err)
		}
	}
	_, hist := b.get("/app/history")
	m := regexp.MustCompile(`/app/verify/(\d+)">entry \d+ ✓ verified`).FindStringSubmatch(hist)
	if m == nil {
		t.Fatalf("history without a verified receipt:\n%s", hist)
	}
	if _, v := b.get("/app/verify/" + m[1]); !strings.Contains(v, "Verified: your approve") {
		t.Fatalf("verify page:\n%s", v)
	}
}

// TestAppSecurityHeaders: strict CSP on every page, no-store, no framing.
func TestAppSecurityHeaders(t *testing.T) {
	e := newAppEnv(t)
	b := e.newBrowser(t)
	for _, path := range []string{"/app/signin", "/app/register", "/app/static/app.js", "/app/nope"} {
		resp, _ := b.get(path)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline or eval: %q", path, csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: framing/sniffing headers %v", path, resp.Header)
		}
	}
	// No inline script or style anywhere in the templates.
	_, page := b.get("/app/signin")
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|style=|onclick=|onsubmit=`).MatchString(page) {
		t.Errorf("inline script or style in the page:\n%s", page)
	}
}

// TestAppCookieFlags: HttpOnly, SameSite=Strict, Path=/; Secure and the
// __Host- prefix under TLS.
func TestAppCookieFlags(t *testing.T) {
	e := newAppEnv(t)
	b := e.newBrowser(t)
	resp, _ := b.get("/app/signin")
	c := cookieOf(t, resp, "human_session")
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("http cookie %+v", c)
	}
	// The same app behind TLS (a configured https origin).
	a := newApp(&Server{cfg: Config{App: AppConfig{Origins: []string{"https://approve.example.com"}}}, now: time.Now})
	r, _ := http.NewRequest("GET", "https://approve.example.com/app/signin", nil)
	r.Host = "approve.example.com"
	w := &headerRecorder{h: http.Header{}}
	a.newSession(w, r, nil)
	resp = &http.Response{Header: w.h}
	c = cookieOf(t, resp, "__Host-human_session")
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("TLS cookie %+v", c)
	}
	// Signing in replaces the session id (no fixation).
	b2, _ := e.approver(t, "acme", "Fay")
	before := b2.hc.Jar.Cookies(mustURL(e.base))
	b2.hc.Jar.SetCookies(mustURL(e.base), nil)
	if b2.signin("acme") != http.StatusOK {
		t.Fatal("sign in failed")
	}
	after := b2.hc.Jar.Cookies(mustURL(e.base))
	if len(before) == 0 || len(after) == 0 || before[0].Value == after[0].Value {
		t.Errorf("session id not rotated on sign-in: %v -> %v", before, after)
	}
}

type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func cookieOf(t testing.TB, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cookie %s in %v", name, resp.Header["Set-Cookie"])
	return nil
}

// TestAttackAppCSRF: a state change without the session's token, with a
// foreign Origin, cross-site, or as a form post is refused, and the task
// stays open.
func TestAttackAppCSRF(t *testing.T) {
	e := newAppEnv(t)
	b, _ := e.approver(t, "acme", "Gus")
	out := e.orgs["acme"].ask(t, "payments.send", "invoice:8", 700)
	b.get("/app/tasks/" + out.Task.ID)
	body := fmt.Sprintf(`{"verdict":"approve","digest":%q}`, out.Task.DigestHex())
	path := "/app/tasks/" + out.Task.ID + "/vote/options"
	cases := []struct {
		name  string
		ctype string
		body  string
		hdr   map[string]string
	}{
		{"no token", "application/json", body, map[string]string{"Origin": e.base}},
		{"wrong token", "application/json", body, map[string]string{"Origin": e.base, "X-CSRF-Token": "x" + b.csrf}},
		{"foreign origin", "application/json", body, map[string]string{"Origin": "https://evil.example", "X-CSRF-Token": b.csrf}},
		{"cross-site fetch", "application/json", body, map[string]string{"Sec-Fetch-Site": "cross-site", "X-CSRF-Token": b.csrf}},
		{"form post", "application/x-www-form-urlencoded", "verdict=approve&digest=" + out.Task.DigestHex() + "&csrf=" + b.csrf, map[string]string{"Origin": e.base}},
		{"sign-out without token", "application/x-www-form-urlencoded", "", map[string]string{"Origin": e.base}},
	}
	for _, tc := range cases {
		p := path
		if tc.name == "sign-out without token" {
			p = "/app/signout"
		}
		resp, data := b.do("POST", p, tc.ctype, tc.body, tc.hdr)
		if resp.StatusCode < 400 {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, data)
		}
	}
	if _, page := b.get("/app/inbox"); !strings.Contains(page, "Signed in as") {
		t.Error("a sign-out without token signed the user out")
	}
	// A link alone (GET with intent=approve) never approves.
	b.get("/app/tasks/" + out.Task.ID + "?intent=approve&org=acme")
	if tk, _ := e.orgs["acme"].c.Task(context.Background(), out.Task.ID); !tk.State.Open() || len(tk.Approvals) != 0 {
		t.Fatalf("task changed by refused requests: %s %d votes", tk.State, len(tk.Approvals))
	}
}

// TestAttackAppCrossOrg: a person of globex signed in cannot see or vote
// on acme's task, even with its id and an org=acme link; nor sign in to
// acme with a globex passkey.
func TestAttackAppCrossOrg(t *testing.T) {
	e := newAppEnv(t)
	bg, _ := e.approver(t, "globex", "Hank")
	e.approver(t, "acme", "Lee")
	out := e.orgs["acme"].ask(t, "payments.send", "invoice:9", 900)
	for _, p := range []string{"/app/tasks/" + out.Task.ID, "/app/tasks/" + out.Task.ID + "?org=acme"} {
		if resp, page := bg.get(p); resp.StatusCode != http.StatusNotFound || strings.Contains(page, "invoice:9") {
			t.Errorf("GET %s from globex: %d", p, resp.StatusCode)
		}
	}
	if code, _ := bg.vote(out.Task, "approve"); code != http.StatusNotFound {
		t.Errorf("cross-org vote: %d", code)
	}
	// Hank's passkey is not a person of acme.
	bg.hc.Jar.SetCookies(mustURL(e.base), []*http.Cookie{{Name: "human_session", Value: "", MaxAge: -1}})
	if code := bg.signin("acme"); code != http.StatusUnauthorized {
		t.Errorf("globex passkey signing in to acme: %d", code)
	}
	// An acme member not routed the task (no capability) does not see it.
	bn := e.newBrowser(t)
	bn.register("acme", "Ivy")
	if resp, _ := bn.get("/app/tasks/" + out.Task.ID); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unrouted member sees the task: %d", resp.StatusCode)
	}
	if tk, _ := e.orgs["acme"].c.Task(context.Background(), out.Task.ID); !tk.State.Open() {
		t.Fatalf("task changed: %s", tk.State)
	}
}

// TestAttackAppForgedAssertion: assertions that are not the signed-in
// human's passkey over this vote are refused and change nothing: another
// key, a different challenge, a replayed ceremony, no user verification.
func TestAttackAppForgedAssertion(t *testing.T) {
	e := newAppEnv(t)
	b, _ := e.approver(t, "acme", "Jo")
	out := e.orgs["acme"].ask(t, "payments.send", "invoice:10", 1000)
	b.get("/app/tasks/" + out.Task.ID)
	start := func() (string, json.RawMessage) {
		o := b.mustPost("/app/tasks/"+out.Task.ID+"/vote/options", map[string]string{"verdict": "approve", "digest": out.Task.DigestHex()})
		return str(o, "ceremony"), o["options"]
	}
	finish := func(cer string, cred json.RawMessage) int {
		code, _ := b.post("/app/tasks/"+out.Task.ID+"/vote/finish", map[string]any{"ceremony": cer, "credential": cred})
		return code
	}
	// Another key, same credential id.
	cer, opts := start()
	thief := *b
	thief.cred = appCredential()
	thief.cred.ID = b.cred.ID
	if code := finish(cer, thief.assert(opts)); code != http.StatusUnauthorized {
		t.Errorf("assertion by another key: %d", code)
	}
	// The right key over another challenge (a sign-in challenge).
	cer, _ = start()
	fake, _ := json.Marshal(map[string]any{"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "rpId": "localhost"})
	if code := finish(cer, b.assert(fake)); code != http.StatusUnauthorized {
		t.Errorf("assertion over another challenge: %d", code)
	}
	// No user verification.
	cer, opts = start()
	nouv := *b
	nouv.auth.Options.UserNotVerified = true
	if code := finish(cer, nouv.assert(opts)); code != http.StatusUnauthorized {
		t.Errorf("assertion without UV: %d", code)
	}
	// Another origin.
	cer, opts = start()
	evil := *b
	evil.rp.Origin = "https://evil.example"
	if code := finish(cer, evil.assert(opts)); code != http.StatusUnauthorized {
		t.Errorf("assertion from another origin: %d", code)
	}
	// Garbage.
	cer, _ = start()
	if code := finish(cer, json.RawMessage(`{"id":"AA","type":"public-key","response":{}}`)); code != http.StatusBadRequest {
		t.Errorf("garbage assertion: %d", code)
	}
	if tk, _ := e.orgs["acme"].c.Task(context.Background(), out.Task.ID); !tk.State.Open() || len(tk.Approvals) != 0 {
		t.Fatalf("forged assertions changed the task: %s", tk.State)
	}
	// A good one counts once; replaying its ceremony is refused.
	cer, opts = start()
	good := b.assert(opts)
	if code := finish(cer, good); code != http.StatusOK {
		t.Fatalf("good assertion: %d", code)
	}
	if code := finish(cer, good); code != http.StatusPreconditionFailed && code != http.StatusConflict && code < 400 {
		t.Errorf("replayed ceremony: %d", code)
	}
}

// TestAppSignInRateLimit: sign-in attempts from one address are limited.
func TestAppSignInRateLimit(t *testing.T) {
	e := newAppEnv(t)
	b := e.newBrowser(t)
	b.get("/app/signin")
	limited := false
	for range 40 {
		code, _ := b.post("/app/signin/options", map[string]string{"org": "acme"})
		if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("40 sign-in attempts in a row were all admitted")
	}
}

// TestAppRegistrationClosed: without OpenRegistration the page refuses.
func TestAppRegistrationClosed(t *testing.T) {
	e := newAppEnv(t)
	e.s.appState.cfg.OpenRegistration = false
	b := e.newBrowser(t)
	b.get("/app/register")
	if code, _ := b.post("/app/register/options", map[string]string{"org": "acme", "name": "Kim"}); code != http.StatusForbidden {
		t.Fatalf("closed registration: %d", code)
	}
}

// FuzzAppAssertion: the assertion decoder never panics, and whatever it
// accepts has authenticator data long enough to hold the counter.
func FuzzAppAssertion(f *testing.F) {
	f.Add([]byte(`{"id":"AQID","type":"public-key","response":{"authenticatorData":"` + strings.Repeat("A", 52) + `","clientDataJSON":"e30","signature":"AQ"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, as, _, err := parseAppAssertion(data)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("error of kind other than invalid argument: %v", err)
			}
			return
		}
		if id == "" || len(as.AuthenticatorData) < 37 {
			t.Fatalf("accepted %q", data)
		}
	})
}
