package human_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/workforce"
)

// shadowPair builds a world on sqlite, exports it and imports it into a
// fresh deployment of profile to; it returns the world, the source
// config, the destination config (the org key moved) and the exported
// ledger size. The destination client is closed again.
func shadowPair(t *testing.T, to string) (*world, human.Config, human.Config, uint64) {
	t.Helper()
	ctx := context.Background()
	w, srcCfg, _ := migrationWorld(t)
	dir := filepath.Join(t.TempDir(), "bundle")
	m, err := w.c.Export(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	dstCfg := profiles[to](t)
	dstCfg.OrgKeyFile = filepath.Join(srcCfg.DataDir, "keys", human.DefaultOrg+".pem")
	dst, err := human.Open(ctx, dstCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Import(ctx, dir, nil); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return w, srcCfg, dstCfg, m.Size
}

// shadowStory is every kind of decision: allowed, pending approval,
// policy deny, scope deny, unknown delegation.
func shadowStory(t *testing.T, w *world) int {
	t.Helper()
	n := 0
	for _, c := range []struct {
		action, resource string
		amount           float64
	}{{"payments.send", "invoice:s1", 10}, {"payments.send", "invoice:s2", 900}, {"payments.refund", "refund:1", 5},
		{"payments.vendor", "invoice:v", 1}, {"ledger.delete", "ledger:9", 0}, {"mail.send", "invoice:x", 1}} {
		w.call(t, c.action, c.resource, c.amount)
		n++
	}
	if _, err := w.c.Call(context.Background(), human.Request{Agent: w.agent.DID, Delegation: "no-such-delegation", Action: "payments.send", Resource: "invoice:z"}); err != nil {
		t.Fatal(err)
	}
	return n + 1
}

// TestShadowProfileAgrees: after an import, the destination as a shadow
// decides every call of the story as the source did, and stays exactly
// what the import wrote (no task, no attestation).
func TestShadowProfileAgrees(t *testing.T) {
	ctx := context.Background()
	for _, to := range []string{"sqlite", "postgres"} {
		t.Run(to, func(t *testing.T) {
			w, srcCfg, dstCfg, size := shadowPair(t, to)
			reg := prometheus.NewRegistry()
			cfg := srcCfg
			cfg.Shadow = &human.ShadowConfig{Config: dstCfg, Registerer: reg}
			c, err := human.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sw := *w
			sw.c = c
			n := shadowStory(t, &sw)
			if err := c.ShadowFlush(ctx); err != nil {
				t.Fatal(err)
			}
			r := c.ShadowReport()
			if !r.Zero() || r.Agreed != uint64(n) {
				t.Fatalf("shadow report %s (%+v), want %d agreed and nothing else", r, r.Recent, n)
			}
			if got := counterValue(t, reg, "human_shadow_calls_total", "agreed"); got != float64(n) {
				t.Fatalf("human_shadow_calls_total{result=agreed} = %v, want %d", got, n)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			// The shadow wrote nothing: its log is the imported one and it
			// opened no approval task.
			dst, err := human.Open(ctx, dstCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			cp, _, err := dst.Ledger().Checkpoint(ctx)
			if err != nil || cp.Size != size {
				t.Fatalf("shadow ledger size %d (%v), want the imported %d", cp.Size, err, size)
			}
			inbox, err := dst.Inbox(ctx, w.bob.DID)
			if err != nil {
				t.Fatal(err)
			}
			if len(inbox) != 1 { // the one pending task from before the export
				t.Fatalf("shadow has %d pending tasks for bob, want the 1 imported", len(inbox))
			}
		})
	}
}

// counterValue is the value of the counter name{...=label} in reg, 0 when
// absent.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

const shadowStricterPolicy = `policy: payments-stricter
rules:
  - id: every-payment-approved
    description: Every payment needs two finance approvers.
    actions: ["payments.send"]
    resources: ["invoice:*"]
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 2
      timeout: 15m
      on_timeout: deny
`

// TestShadowProfileDiverges: a destination whose policy changed after the
// import is caught: every kind of divergence is counted, logged with both
// decisions and exported as a metric, and the primary's outcome is never
// changed by the shadow.
func TestShadowProfileDiverges(t *testing.T) {
	ctx := context.Background()
	w, srcCfg, dstCfg, _ := shadowPair(t, "sqlite")
	dst, err := human.Open(ctx, dstCfg)
	if err != nil {
		t.Fatal(err)
	}
	dw := *w
	dw.c = dst
	if _, err := dw.publish(ctx, "stricter.yaml", shadowStricterPolicy); err != nil {
		t.Fatal(err)
	}
	dst.Close()

	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	cfg := srcCfg
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.Shadow = &human.ShadowConfig{Config: dstCfg, Registerer: reg, Samples: 1}
	c, err := human.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sw := *w
	sw.c = c
	small := sw.call(t, "payments.send", "invoice:d1", 10)  // allow vs approval: effect, rule, approval
	large := sw.call(t, "payments.send", "invoice:d2", 900) // approval quorum 1 vs 2: rule, approval
	same := sw.call(t, "ledger.delete", "ledger:d3", 0)     // deny vs default deny: rule
	if small.Status != human.Allowed || large.Status != human.Pending || same.Status != human.Denied {
		t.Fatalf("the shadow changed the primary's outcomes: %s %s %s", small.Status, large.Status, same.Status)
	}
	if err := c.ShadowFlush(ctx); err != nil {
		t.Fatal(err)
	}
	r := c.ShadowReport()
	want := map[string]uint64{human.DivergedEffect: 1, human.DivergedRule: 3, human.DivergedApproval: 2}
	for k, n := range want {
		if r.ByKind[k] != n {
			t.Errorf("ByKind[%s] = %d, want %d (%+v)", k, r.ByKind[k], n, r.ByKind)
		}
		if got := counterValue(t, reg, "human_shadow_divergences_total", k); got != float64(n) {
			t.Errorf("human_shadow_divergences_total{kind=%s} = %v, want %d", k, got, n)
		}
	}
	if r.Diverged != 3 || r.Zero() || len(r.Recent) != 1 || r.Recent[0].Resource != "ledger:d3" {
		t.Fatalf("report %s, recent %+v", r, r.Recent)
	}
	if !strings.Contains(logs.String(), "shadow profile diverged") || !strings.Contains(logs.String(), "every-payment-approved") {
		t.Fatalf("divergence not logged with both decisions:\n%s", logs.String())
	}
}

// TestShadowProfileLimits: a call the primary denies on a used-up budget
// is limit-decided, not a divergence (budgets are charged on the primary
// only).
func TestShadowProfileLimits(t *testing.T) {
	ctx := context.Background()
	w, srcCfg, _ := migrationWorld(t)
	if _, err := w.publish(ctx, "budget.yaml", budgetPolicy); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := w.c.Export(ctx, dir, nil); err != nil {
		t.Fatal(err)
	}
	dstCfg := profiles["sqlite"](t)
	dstCfg.OrgKeyFile = filepath.Join(srcCfg.DataDir, "keys", human.DefaultOrg+".pem")
	dst, err := human.Open(ctx, dstCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Import(ctx, dir, nil); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	cfg := srcCfg
	cfg.Shadow = &human.ShadowConfig{Config: dstCfg}
	c, err := human.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sw := *w
	sw.c = c
	if out := sw.call(t, "payments.send", "invoice:l1", 60); out.Status != human.Allowed {
		t.Fatalf("first payment: %s %s", out.Status, out.Reason)
	}
	if out := sw.call(t, "payments.send", "invoice:l2", 60); out.Status != human.Denied {
		t.Fatalf("second payment over the daily limit: %s %s", out.Status, out.Reason)
	}
	if err := c.ShadowFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if r := c.ShadowReport(); !r.Zero() || r.Agreed != 1 || r.LimitDecided != 1 {
		t.Fatalf("report %s", r)
	}
}

// TestShadowProfileConfig: refused shadow configurations, the
// environment, and a client without a shadow.
func TestShadowProfileConfig(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		cfg  human.Config
		want error
	}{
		{"hosted shadow", human.Config{Store: "mem://", Shadow: &human.ShadowConfig{Config: human.Config{BaseURL: "http://127.0.0.1:1"}}}, errs.ErrFailedPrecondition},
		{"shadow of a shadow", human.Config{Store: "mem://", Shadow: &human.ShadowConfig{Config: human.Config{Store: "mem://", Shadow: &human.ShadowConfig{}}}}, errs.ErrInvalidArgument},
		{"bad shadow store", human.Config{Store: "mem://", Shadow: &human.ShadowConfig{Config: human.Config{Store: "nosuch://x"}}}, errs.ErrInvalidArgument},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := human.Open(ctx, c.cfg)
			if err == nil {
				cl.Close()
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	t.Run("env", func(t *testing.T) {
		t.Setenv("HUMAN_SHADOW_STORE", "mem://")
		if s := human.ConfigFromEnv().Shadow; s == nil || s.Config.Store != "mem://" {
			t.Fatalf("HUMAN_SHADOW_STORE not read: %+v", s)
		}
		t.Setenv("HUMAN_SHADOW_STORE", "")
		if s := human.ConfigFromEnv().Shadow; s != nil {
			t.Fatalf("shadow without HUMAN_SHADOW_*: %+v", s)
		}
	})
	t.Run("no shadow", func(t *testing.T) {
		cl, err := human.Open(ctx, human.Config{Store: "mem://"})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if r := cl.ShadowReport(); r.Enabled || r.Zero() || cl.ShadowFlush(ctx) != nil {
			t.Fatalf("report without a shadow: %+v", r)
		}
	})
}

// TestAttackShadowCannotApprove: the shadow is never enforced. A shadow
// whose policy allows what the primary's requires approval for changes
// nothing: the call stays pending on the primary, and a vote cast on the
// shadow's copy of the task does not exist there.
func TestAttackShadowCannotApprove(t *testing.T) {
	ctx := context.Background()
	w, srcCfg, dstCfg, _ := shadowPair(t, "sqlite")
	dst, err := human.Open(ctx, dstCfg)
	if err != nil {
		t.Fatal(err)
	}
	dw := *w
	dw.c = dst
	if _, err := dw.publish(ctx, "lax.yaml", `policy: lax
rules:
  - id: anything
    description: Everything goes.
    actions: ["*"]
    effect: allow
`); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	cfg := srcCfg
	cfg.Shadow = &human.ShadowConfig{Config: dstCfg}
	c, err := human.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sw := *w
	sw.c = c
	out := sw.call(t, "payments.send", "invoice:a1", 5000)
	if out.Status != human.Pending {
		t.Fatalf("primary outcome %s under a lax shadow", out.Status)
	}
	del := sw.call(t, "ledger.delete", "ledger:a2", 0)
	if del.Status != human.Denied {
		t.Fatalf("primary outcome %s under a lax shadow", del.Status)
	}
	if err := c.ShadowFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if r := c.ShadowReport(); r.Diverged != 2 || r.ByKind[human.DivergedEffect] != 2 {
		t.Fatalf("report %s", r)
	}
	// The task lives on the primary only; a vote there is the only way on.
	tk, err := c.Task(ctx, out.Task.ID)
	if err != nil || tk.State != workforce.Pending {
		t.Fatalf("task %v %v", tk, err)
	}
	env, err := workforce.SignVote(w.daveKey, w.dave.DID, tk, "approve", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decide(ctx, tk.ID, env); err == nil {
		t.Fatal("a human without the capability approved")
	}
}

// TestShadowPolicyHolds: a candidate policy whose condition asks the
// capability graph (holds) is shadowed the same way in every profile; in
// the server profiles the candidate is evaluated on the client, beside the
// decision the server returned, with holds() answered by the server's
// graph (GET /v1/capabilities/holds). A bad candidate is refused with the
// same error everywhere.
func TestShadowPolicyHolds(t *testing.T) {
	const candidate = `policy: payments-by-admins
rules:
  - id: admins-pay
    description: Agents of a policy admin pay anything.
    actions: ["payments.send"]
    condition: holds(requester, "policy.admin")
    effect: allow
  - id: others-pay-small
    description: Agents of anyone else pay small invoices.
    actions: ["payments.send"]
    condition: double(request.attributes.amount) <= 100.0 && !holds(requester, "policy.admin")
    effect: allow
`
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			w := setup(t, profile(t))
			ctx := context.Background()
			if _, err := w.c.StartShadow("bad.yaml", []byte("policy: x\nrules:\n  - id: r\n    effect: maybe\n")); !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("bad candidate: %v, want ErrInvalidArgument", err)
			}
			s, err := w.c.StartShadow("candidate.yaml", []byte(candidate))
			if err != nil {
				t.Fatal(err)
			}
			small := w.call(t, "payments.send", "invoice:h1", 10)  // allow vs allow (admins-pay)
			large := w.call(t, "payments.send", "invoice:h2", 900) // approval vs allow
			if small.Status != human.Allowed || large.Status != human.Pending {
				t.Fatalf("the shadow changed outcomes: %s %s", small.Status, large.Status)
			}
			// Never reaches policy: not observed.
			if _, err := w.c.Call(ctx, human.Request{Agent: w.agent.DID, Delegation: "no-such-delegation", Action: "payments.send", Resource: "invoice:z"}); err != nil {
				t.Fatal(err)
			}
			w.c.StopShadow()
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			r := s.Report()
			if r.Observed != 2 || r.Same != 1 || r.Different != 1 || r.Errors != 0 || len(r.Diffs) != 1 ||
				r.Diffs[0].ActiveRule != "large-payments" || r.Diffs[0].CandidateRule != "admins-pay" {
				t.Fatalf("report %+v", r)
			}
		})
	}
}
