package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/humanos/human"
	"github.com/humanos/human/internal/testenv"
	"github.com/humanos/human/workforce"
	"github.com/humanos/human/workforce/notify"
)

// TestAppInBrowser drives headless Chromium with a virtual CTAP2
// authenticator (user verification on) through the inbox: create a
// passport with a passkey, then approve (the agent's pending Call
// completes with verified receipts), deny, and let a deadline pass
// ("timed out", not "denied"). Screenshots of the inbox and the task page
// at desktop and phone widths go to test-output/inbox/.
func TestAppInBrowser(t *testing.T) {
	bin := testenv.Require(t, "HUMAN_TEST_CHROMIUM")
	if testing.Short() {
		t.Skip("real browser: not in -short")
	}
	e := newAppEnv(t)
	acme := e.orgs["acme"]
	shots := filepath.Join("..", "test-output", "inbox")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			qctx, qcancel := context.WithTimeout(bctx, 5*time.Second)
			defer qcancel()
			loc, _ := chromedp.Run(qctx, chromedp.Location())
			body, _ := chromedp.Run(qctx, chromedp.Text(chromedp.CSS("main")))
			t.Fatalf("%s: %v (at %s: %s)", what, err, loc, body)
		}
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	// The first action runs on bctx itself: it starts the browser, which
	// lives as long as the context of that first action.
	if err := chromedp.Do(bctx, chromedp.Navigate(e.base+"/app/register?org=acme")); err != nil {
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
	shot := func(name string) {
		for _, vp := range []struct {
			w, h int64
			tag  string
		}{{1280, 900, "desktop"}, {390, 844, "phone"}} {
			run("viewport", chromedp.EmulateViewport(vp.w, vp.h))
			ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
			buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shots, name+"-"+vp.tag+".png"), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run("reset viewport", chromedp.EmulateViewport(1280, 900))
	}

	// Create the passport: the passkey is made, then signs the inception.
	run("register", chromedp.SendKeys(chromedp.CSS("#name"), "Erin Approver"),
		chromedp.Click(chromedp.CSS(`form[data-flow=register] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.note`)))
	did := e.didOf(t, "acme", "Erin Approver")
	if err := acme.c.Grant(context.Background(), did, "finance.approver"); err != nil {
		t.Fatal(err)
	}
	// Sign out and back in with the passkey (a discoverable credential).
	run("sign out", chromedp.Click(chromedp.CSS(`form[action="/app/signout"] button`)), chromedp.WaitVisible(chromedp.CSS(`#org`)))
	run("sign in", chromedp.SetValue(chromedp.CSS("#org"), "acme"), chromedp.Click(chromedp.CSS(`form[data-flow=signin] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.who`)))

	decide := func(t *testing.T, amount float64, verdict string) (*human.Outcome, string) {
		out := acme.ask(t, "payments.send", "invoice:browser", amount)
		run("inbox", chromedp.Navigate(e.base+"/app/inbox"), chromedp.WaitVisible(chromedp.CSS(`a[href="/app/tasks/`+out.Task.ID+`"]`)))
		if verdict == workforce.VerdictApprove {
			shot("inbox")
		}
		run("open from notification link", chromedp.Navigate(notify.TaskURL(e.base, "acme", out.Task.ID, verdict)),
			chromedp.WaitVisible(chromedp.CSS(`form[data-flow=vote]`)))
		if verdict == workforce.VerdictApprove {
			shot("task")
		}
		if tk, _ := acme.c.Task(context.Background(), out.Task.ID); !tk.State.Open() {
			t.Fatal("opening the link changed the task")
		}
		run(verdict, chromedp.Click(chromedp.CSS(`button[value=`+verdict+`]`)), chromedp.WaitVisible(chromedp.CSS(`#result`)))
		return out, text(`#state`)
	}

	t.Run("approve", func(t *testing.T) {
		out, state := decide(t, 500, workforce.VerdictApprove)
		if state != "approved" {
			t.Fatalf("page says %q", state)
		}
		shot("task-approved")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		done, err := out.Wait(ctx)
		if err != nil || !done.Allowed() {
			t.Fatalf("agent's call: %+v %v", done, err)
		}
		if len(done.Receipts) == 0 {
			t.Fatal("no receipts")
		}
		for _, rc := range done.Receipts {
			if err := human.VerifyReceipt(rc, acme.c.LedgerKey()); err != nil {
				t.Fatal(err)
			}
		}
		run("verify view", chromedp.Navigate(e.base+"/app/history"), chromedp.Click(chromedp.CSS(`td a[href^="/app/verify/"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
		verdict := text(`#verdict`)
		if !strings.HasPrefix(verdict, "Verified") {
			t.Fatalf("verify view: %q", verdict)
		}
		shot("verify")
	})
	t.Run("deny", func(t *testing.T) {
		out, state := decide(t, 600, workforce.VerdictDeny)
		if state != "denied" {
			t.Fatalf("page says %q", state)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		done, err := out.Wait(ctx)
		if err != nil || done.Allowed() || done.Task.State != workforce.Denied {
			t.Fatalf("agent's call: %+v %v", done, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		out := acme.ask(t, "payments.urgent", "invoice:late", 50)
		run("task page", chromedp.Navigate(e.base+"/app/tasks/"+out.Task.ID), chromedp.WaitVisible(chromedp.CSS(`time[data-countdown]`)))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done, err := out.Wait(ctx)
		if err != nil || done.Allowed() || done.Task.State != workforce.TimedOut {
			t.Fatalf("agent's call: %+v %v", done, err)
		}
		run("reload", chromedp.Navigate(e.base+"/app/tasks/"+out.Task.ID), chromedp.WaitVisible(chromedp.CSS(`#state`)))
		state := text(`#state`)
		if !strings.HasPrefix(state, "timed out") || strings.Contains(state, "denied") {
			t.Fatalf("page says %q, want timed out (not denied)", state)
		}
		shot("task-timed-out")
	})
}
