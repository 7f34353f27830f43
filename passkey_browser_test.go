package human_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/humanos/human/internal/testenv"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/passport/passkey"
	"github.com/humanos/human/workforce"
)

// TestPasskeyInRealBrowser drives headless Chromium (installed by
// scripts/services/chromium.sh) with a virtual CTAP2 authenticator that
// does user verification: it registers a passkey against a page served on
// localhost, creates a human passport whose device key is that passkey,
// and signs an approval vote with it that the SDK verifies and counts.
func TestPasskeyInRealBrowser(t *testing.T) {
	bin := testenv.Require(t, "HUMAN_TEST_CHROMIUM")
	if testing.Short() {
		t.Skip("real browser: not in -short")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>HUMAN passkey</title><p>passkey test page</p>`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if _, err := chromedp.Run(bctx, chromedp.Navigate(origin)); err != nil {
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	if _, err := chromedp.Call(bctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	}); err != nil {
		t.Fatal(err)
	}
	js := func(script string) (string, error) {
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		return chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	}

	rp, err := passkey.New(passkey.Config{RPID: "localhost", Origins: []string{origin},
		Policy: passkey.Policy{RequireUserVerification: true, RequireDeviceBound: true}})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := rp.BeginRegistration("erin")
	if err != nil {
		t.Fatal(err)
	}
	created, err := js(fmt.Sprintf(`(async () => {
		const c = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(%s)});
		return JSON.stringify(c.toJSON());
	})()`, reg.Options))
	if err != nil {
		t.Fatalf("navigator.credentials.create: %v", err)
	}
	cred, err := rp.FinishRegistration(reg, []byte(created))
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	signer := rp.Signer(cred, func(options []byte) ([]byte, error) {
		got, err := js(fmt.Sprintf(`(async () => {
			const c = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(%s)});
			return JSON.stringify(c.toJSON());
		})()`, options))
		return []byte(got), err
	})

	// The passport: an inception signed in the browser.
	w := setup(t, profiles["memory"](t))
	ctx := context.Background()
	inc, err := passport.NewInception(passport.KindHuman, "erin", time.Now(), signer)
	if err != nil {
		t.Fatalf("inception signed by the passkey: %v", err)
	}
	erin, err := w.c.RegisterPassport(ctx, inc)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if !erin.HasKey(cred.Key) {
		t.Fatal("the passkey is not erin's device key")
	}
	if err := w.c.Grant(ctx, erin.DID, "finance.approver"); err != nil {
		t.Fatal(err)
	}
	// An approval signed in the browser, verified and counted by the SDK.
	out := w.call(t, "payments.send", "invoice:browser", 250)
	if out.Task == nil {
		t.Fatalf("want a pending approval, got %+v", out)
	}
	vote, err := workforce.SignVote(signer, erin.DID, out.Task, "approve", time.Now())
	if err != nil {
		t.Fatalf("vote signed by the passkey: %v", err)
	}
	dec, err := w.c.Decide(ctx, out.Task.ID, vote)
	if err != nil {
		t.Fatalf("decide: %v", err)
	}
	if dec.Task.State != workforce.Approved {
		t.Fatalf("task state %v, want approved", dec.Task.State)
	}
}
