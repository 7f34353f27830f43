package human_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

const testPolicy = `policy: payments
rules:
  - id: small-payments
    description: Agents may pay small invoices on their own.
    actions: ["payments.send"]
    resources: ["invoice:*"]
    condition: double(request.attributes.amount) <= 100.0
    effect: allow
  - id: large-payments
    description: Payments over 100 need a finance approver.
    actions: ["payments.send"]
    resources: ["invoice:*"]
    condition: double(request.attributes.amount) > 100.0
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 1
      timeout: 15m
      on_timeout: deny
  - id: quick-refunds
    description: Refunds need two approvers within a short window.
    actions: ["payments.refund"]
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 2
      timeout: 2s
      on_timeout: deny
  - id: vendor-escalation
    description: New vendors need finance, then the finance director if finance is slow.
    actions: ["payments.vendor"]
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 1
      timeout: 1500ms
      escalation:
        - capability: finance.director
          timeout: 20s
  - id: no-deletes
    description: Agents never delete ledgers.
    actions: ["ledger.delete"]
    effect: deny
`

// world is one org set up for the scenarios: Alice delegates to an agent;
// Bob and Carol hold finance.approver; Dave holds nothing.
type world struct {
	c                       *human.Client
	alice, bob, carol, dave *passport.Passport
	aliceKey, bobKey        *passport.Ed25519Signer
	carolKey, daveKey       *passport.Ed25519Signer
	agent                   *passport.Passport
	agentKey                *passport.Ed25519Signer
	dlg                     *passport.Delegation
}

// profiles are the store configurations every scenario runs on; each call
// of a profile gives a fresh, empty deployment.
var profiles = map[string]func(t testing.TB) human.Config{
	"memory": func(testing.TB) human.Config {
		return human.Config{Store: "mem://", ExpiryInterval: 50 * time.Millisecond}
	},
	"sqlite": func(t testing.TB) human.Config {
		dir := t.TempDir()
		return human.Config{Store: "sqlite://" + filepath.ToSlash(filepath.Join(dir, "human.db")), DataDir: dir, ExpiryInterval: 50 * time.Millisecond}
	},
	"postgres":         postgresProfile,        // postgres_profile_test.go
	"neo4j+s3":         neo4jS3Profile,         // storeadapters_profile_test.go: graph on Neo4j, policies and ledger on S3
	"snowflake-ledger": snowflakeLedgerProfile, // storeadapters_profile_test.go: ledger on Snowflake (fakesnow)
}

func newHuman(t testing.TB, ctx context.Context, c *human.Client, name string) (*passport.Passport, *passport.Ed25519Signer) {
	t.Helper()
	key, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	inc, err := passport.NewInception(passport.KindHuman, name, time.Now(), key)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.RegisterPassport(ctx, inc)
	if err != nil {
		t.Fatal(err)
	}
	return p, key
}

func setup(t testing.TB, cfg human.Config) *world {
	t.Helper()
	ctx := context.Background()
	c, err := human.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &world{c: c}
	w.alice, w.aliceKey = newHuman(t, ctx, c, "alice")
	w.bob, w.bobKey = newHuman(t, ctx, c, "bob")
	w.carol, w.carolKey = newHuman(t, ctx, c, "carol")
	w.dave, w.daveKey = newHuman(t, ctx, c, "dave")
	for _, p := range []*passport.Passport{w.bob, w.carol} {
		if err := c.Grant(ctx, p.DID, "finance.approver"); err != nil {
			t.Fatal(err)
		}
	}
	w.agentKey, _ = passport.GenerateEd25519()
	inc, err := passport.NewInception(passport.KindAgent, "bot", time.Now(), w.agentKey)
	if err != nil {
		t.Fatal(err)
	}
	if w.agent, err = c.RegisterPassport(ctx, inc); err != nil {
		t.Fatal(err)
	}
	cert, err := passport.Delegate(w.aliceKey, passport.Delegation{
		Issuer: w.alice.DID, Subject: w.agent.DID,
		Scope:     passport.Scope{Actions: []string{"payments.*", "ledger.delete"}, Resources: []string{"invoice:*", "refund:*", "ledger:*"}, Limits: map[string]float64{"amount": 5000}},
		NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if w.dlg, err = c.Delegate(ctx, cert); err != nil {
		t.Fatal(err)
	}
	if err := c.Grant(ctx, w.alice.DID, policy.AdminCapability); err != nil {
		t.Fatal(err)
	}
	if _, err := w.publish(ctx, "payments.yaml", testPolicy); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) call(t testing.TB, action, resource string, amount float64) *human.Outcome {
	t.Helper()
	out, err := w.c.Call(context.Background(), human.Request{
		Agent: w.agent.DID, Delegation: w.dlg.ID, Action: action, Resource: resource,
		Attributes: map[string]any{"amount": amount},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (w *world) vote(t testing.TB, key passport.Signer, who *passport.Passport, task *workforce.Task, verdict string) (*human.Decision, error) {
	t.Helper()
	env, err := workforce.SignVote(key, who.DID, task, verdict, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return w.c.Decide(context.Background(), task.ID, env)
}

func verifyAll(t testing.TB, w *world, out *human.Outcome) {
	t.Helper()
	if len(out.Receipts) == 0 {
		t.Fatalf("outcome %s has no receipts", out.Status)
	}
	for _, r := range out.Receipts {
		if err := human.VerifyReceipt(r, w.c.LedgerKey()); err != nil {
			t.Fatalf("receipt %d: %v", r.Index, err)
		}
	}
}

// TestScenarios is the scenario suite: the same story on every profile.
func TestScenarios(t *testing.T) {
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			t.Run("small payment is allowed and attested", func(t *testing.T) {
				w := setup(t, profile(t))
				out := w.call(t, "payments.send", "invoice:1", 42)
				if out.Status != human.Allowed || out.Decision.Rule != "small-payments" {
					t.Fatalf("got %s by %q: %s", out.Status, out.Decision.Rule, out.Reason)
				}
				verifyAll(t, w, out)
			})
			t.Run("large payment waits for a holder's signed approval", func(t *testing.T) {
				w := setup(t, profile(t))
				out := w.call(t, "payments.send", "invoice:2", 1200)
				if out.Status != human.Pending || out.Task == nil {
					t.Fatalf("got %s: %s", out.Status, out.Reason)
				}
				if got := strings.Join(out.Task.Candidates, ","); strings.Contains(got, w.alice.DID) || strings.Contains(got, w.dave.DID) {
					t.Fatalf("candidates %v include the delegator or a non-holder", out.Task.Candidates)
				}
				d, err := w.vote(t, w.bobKey, w.bob, out.Task, "approve")
				if err != nil {
					t.Fatal(err)
				}
				if d.Task.State != workforce.Approved {
					t.Fatalf("task state %s", d.Task.State)
				}
				final, err := out.Wait(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if final.Status != human.Allowed {
					t.Fatalf("final %s: %s", final.Status, final.Reason)
				}
				verifyAll(t, w, final)
			})
			t.Run("an approver's deny denies", func(t *testing.T) {
				w := setup(t, profile(t))
				out := w.call(t, "payments.send", "invoice:3", 900)
				if _, err := w.vote(t, w.carolKey, w.carol, out.Task, "deny"); err != nil {
					t.Fatal(err)
				}
				final, err := out.Wait(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if final.Status != human.Denied || !strings.Contains(final.Reason, "denied by") {
					t.Fatalf("final %s: %s", final.Status, final.Reason)
				}
			})
			t.Run("quorum of two distinct approvers, then timeout fails closed", func(t *testing.T) {
				w := setup(t, profile(t))
				out := w.call(t, "payments.refund", "refund:1", 10)
				if out.Status != human.Pending || out.Task.Quorum != 2 {
					t.Fatalf("got %s quorum %d", out.Status, out.Task.Quorum)
				}
				d, err := w.vote(t, w.bobKey, w.bob, out.Task, "approve")
				if err != nil {
					t.Fatal(err)
				}
				if d.Task.State != workforce.Pending {
					t.Fatalf("one vote of two resolved the task: %s", d.Task.State)
				}
				if _, err := w.vote(t, w.bobKey, w.bob, out.Task, "approve"); !errors.Is(err, errs.ErrConflict) {
					t.Fatalf("second vote by the same human: %v, want ErrConflict", err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				final, err := out.Wait(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if final.Status != human.Denied || final.Task.State != workforce.TimedOut || !strings.Contains(final.Reason, "timed out") {
					t.Fatalf("final %s (%s): %s", final.Status, final.Task.State, final.Reason)
				}
				if _, err := w.vote(t, w.carolKey, w.carol, out.Task, "approve"); !errors.Is(err, errs.ErrFailedPrecondition) {
					t.Fatalf("vote after timeout: %v, want ErrFailedPrecondition", err)
				}
			})
			t.Run("an approval escalates after a timeout", func(t *testing.T) {
				w := setup(t, profile(t))
				ctx := context.Background()
				if err := w.c.Grant(ctx, w.dave.DID, "finance.director"); err != nil {
					t.Fatal(err)
				}
				out := w.call(t, "payments.vendor", "invoice:77", 10)
				if out.Status != human.Pending {
					t.Fatalf("got %s: %s", out.Status, out.Reason)
				}
				// Dave holds only the escalation step's capability: his vote
				// does not count until finance (Bob, Carol) lets the first step lapse.
				if _, err := w.vote(t, w.daveKey, w.dave, out.Task, "approve"); !errors.Is(err, errs.ErrPermissionDenied) {
					t.Fatalf("vote before escalation: %v, want ErrPermissionDenied", err)
				}
				deadline := time.Now().Add(10 * time.Second)
				var task *workforce.Task
				for {
					var err error
					if task, err = w.c.Task(ctx, out.Task.ID); err != nil {
						t.Fatal(err)
					}
					if task.State == workforce.Escalated || time.Now().After(deadline) {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if task.State != workforce.Escalated {
					t.Fatalf("task is %s after the first step's deadline, want escalated", task.State)
				}
				if _, err := w.vote(t, w.daveKey, w.dave, task, "approve"); err != nil {
					t.Fatalf("the escalation step's approver: %v", err)
				}
				final, err := out.Wait(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if final.Status != human.Allowed {
					t.Fatalf("final %s: %s", final.Status, final.Reason)
				}
				verifyAll(t, w, final)
			})
			t.Run("deny rule", func(t *testing.T) {
				w := setup(t, profile(t))
				out := w.call(t, "ledger.delete", "ledger:main", 0)
				if out.Status != human.Denied || out.Decision.Rule != "no-deletes" {
					t.Fatalf("got %s by %q", out.Status, out.Decision.Rule)
				}
				verifyAll(t, w, out)
			})
			t.Run("refusals", func(t *testing.T) {
				w := setup(t, profile(t))
				ctx := context.Background()
				for _, tc := range []struct {
					name string
					req  human.Request
					want error
				}{
					{"unknown agent", human.Request{Agent: "did:human:nobody", Delegation: w.dlg.ID, Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": 1.0}}, errs.ErrNotFound},
					{"unknown delegation", human.Request{Agent: w.agent.DID, Delegation: "dlg:nothing", Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": 1.0}}, errs.ErrNotFound},
					{"action outside scope", human.Request{Agent: w.agent.DID, Delegation: w.dlg.ID, Action: "hr.fire", Resource: "invoice:1", Attributes: map[string]any{"amount": 1.0}}, errs.ErrPermissionDenied},
					{"resource outside scope", human.Request{Agent: w.agent.DID, Delegation: w.dlg.ID, Action: "payments.send", Resource: "payroll:1", Attributes: map[string]any{"amount": 1.0}}, errs.ErrPermissionDenied},
					{"over the delegated limit", human.Request{Agent: w.agent.DID, Delegation: w.dlg.ID, Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": 9000.0}}, errs.ErrPermissionDenied},
				} {
					out, err := w.c.Call(ctx, tc.req)
					if err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
					if out.Status != human.Denied || !errors.Is(out.Cause, tc.want) {
						t.Errorf("%s: got %s cause %v, want denied with %v", tc.name, out.Status, out.Cause, tc.want)
					}
				}
				for _, req := range []human.Request{
					{Delegation: w.dlg.ID, Action: "x"},
					{Agent: w.agent.DID, Action: "x"},
					{Agent: w.agent.DID, Delegation: w.dlg.ID},
					{Agent: w.agent.DID, Delegation: w.dlg.ID, Action: "x", Attributes: map[string]any{"ch": make(chan int)}},
				} {
					if _, err := w.c.Call(ctx, req); !errors.Is(err, errs.ErrInvalidArgument) {
						t.Errorf("malformed %+v: %v, want ErrInvalidArgument", req, err)
					}
				}
			})
			t.Run("invalid policy changes nothing", func(t *testing.T) {
				w := setup(t, profile(t))
				_, err := w.publish(context.Background(), "broken.yaml", "policy: x\nrules:\n  - id: r\n    actions: [a]\n    effect: maybe\n")
				if !errors.Is(err, errs.ErrInvalidArgument) {
					t.Fatalf("got %v", err)
				}
				if out := w.call(t, "payments.send", "invoice:1", 5); out.Status != human.Allowed || out.Decision.PolicyVersion != 1 {
					t.Fatalf("policy changed: %s v%d", out.Status, out.Decision.PolicyVersion)
				}
			})
			t.Run("revoked delegation stops the agent", func(t *testing.T) {
				w := setup(t, profile(t))
				rev, err := passport.Revoke(w.aliceKey, w.alice.DID, w.dlg.ID, "rotated the bot", time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if err := w.c.RevokeDelegation(context.Background(), rev); err != nil {
					t.Fatal(err)
				}
				out := w.call(t, "payments.send", "invoice:1", 5)
				if out.Status != human.Denied || !errors.Is(out.Cause, errs.ErrFailedPrecondition) {
					t.Fatalf("got %s cause %v", out.Status, out.Cause)
				}
			})
		})
	}
}

// TestAttackApprovals: invariant 6. Approvals by the delegator, by a human
// without the capability, by the agent, with a forged signature, or for a
// different task do not count.
func TestAttackApprovals(t *testing.T) {
	w := setup(t, profiles["sqlite"](t))
	out := w.call(t, "payments.send", "invoice:9", 700)
	other := w.call(t, "payments.send", "invoice:10", 800)
	for _, tc := range []struct {
		name string
		key  passport.Signer
		who  *passport.Passport
		task *workforce.Task
		want error
	}{
		{"the agent's own delegator", w.aliceKey, w.alice, out.Task, errs.ErrPermissionDenied},
		{"a human without the capability", w.daveKey, w.dave, out.Task, errs.ErrPermissionDenied},
		{"the agent itself", w.agentKey, w.agent, out.Task, errs.ErrPermissionDenied},
		{"Bob's name, Dave's key", w.daveKey, w.bob, out.Task, errs.ErrUnauthenticated},
	} {
		if _, err := w.vote(t, tc.key, tc.who, tc.task, "approve"); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A valid vote for one task replayed against another.
	env, err := workforce.SignVote(w.bobKey, w.bob.DID, other.Task, "approve", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.Decide(context.Background(), out.Task.ID, env); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("vote replayed onto another task: %v", err)
	}
	task, err := w.c.Task(context.Background(), out.Task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if task.State != workforce.Pending || len(task.Approvals) != 0 {
		t.Fatalf("rejected votes changed the task: %s with %d votes", task.State, len(task.Approvals))
	}
}

// TestConfigErrors: bad configuration is a clear error, not a half-open client.
func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []human.Config{
		{Store: "nosuch://x"},
		{Store: "::not a url"},
		{Store: "mem://", Org: "Bad Org"},
		{BaseURL: "https://human.example"},
		{Store: "sqlite://"},
	} {
		if c, err := human.Open(ctx, cfg); !errors.Is(err, errs.ErrInvalidArgument) {
			if c != nil {
				c.Close()
			}
			t.Errorf("%+v: %v, want ErrInvalidArgument", cfg, err)
		}
	}
}

// TestSecondClientContinuesLedger: a second client on the same SQLite file
// and key continues the same log.
func TestSecondClientContinuesLedger(t *testing.T) {
	cfg := profiles["sqlite"](t)
	w := setup(t, cfg)
	out := w.call(t, "payments.send", "invoice:1", 5)
	c2, err := human.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.LedgerKey() != w.c.LedgerKey() {
		t.Fatal("second client has another ledger key")
	}
	if err := human.VerifyReceipt(out.Receipts[0], c2.LedgerKey()); err != nil {
		t.Fatal(err)
	}
}
