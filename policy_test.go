package human_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
)

// publish has Alice, the org's policy admin in every world, sign a change
// publishing src as the next version, and applies it.
func (w *world) publish(ctx context.Context, filename, src string) (*policy.Policy, error) {
	base, err := w.c.LatestPolicyVersion(ctx)
	if err != nil {
		return nil, err
	}
	env, err := policy.SignChange(w.aliceKey, policy.Change{
		Org: w.c.Org(), Admin: w.alice.DID, Filename: filename, Document: []byte(src), Base: base, Created: time.Now(),
	})
	if err != nil {
		return nil, err
	}
	return w.c.PublishPolicy(ctx, env)
}

const budgetPolicy = `policy: payments-with-budget
rules:
  - id: pay
    description: Agents may pay invoices, up to 100 a day.
    actions: ["payments.send"]
    resources: ["invoice:*"]
    effect: allow
    limits:
      - name: daily
        amount: request.attributes.amount
        max: 100
        window: 24h
`

// TestPolicyScenarios runs the policy engine's stories on every profile:
// budgets, signed changes and their attacks, rollback, shadow diffs.
func TestPolicyScenarios(t *testing.T) {
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			t.Run("budget is enforced concurrently and explained", func(t *testing.T) {
				w := setup(t, profile(t))
				if _, err := w.publish(context.Background(), "budget.yaml", budgetPolicy); err != nil {
					t.Fatal(err)
				}
				var allowed, denied atomic.Int64
				var wg sync.WaitGroup
				for g := 0; g < 4; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < 5; i++ {
							out, err := w.c.Call(context.Background(), human.Request{Agent: w.agent.DID, Delegation: w.dlg.ID,
								Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": 12.5}})
							if err != nil {
								t.Error(err)
								return
							}
							switch {
							case out.Status == human.Allowed && strings.Contains(out.Reason, "limit pay/daily:"):
								allowed.Add(1)
							case out.Status == human.Denied && strings.Contains(out.Reason, "limit daily for agent") && strings.Contains(out.Reason, "used up"):
								denied.Add(1)
							default:
								t.Errorf("unexpected %s: %s", out.Status, out.Reason)
							}
						}
					}()
				}
				wg.Wait()
				if allowed.Load() != 8 || denied.Load() != 12 { // 8 * 12.5 = 100
					t.Fatalf("allowed %d denied %d; want 8 and 12", allowed.Load(), denied.Load())
				}
			})
			t.Run("signed rollback is one call and attested", func(t *testing.T) {
				w := setup(t, profile(t))
				ctx := context.Background()
				if _, err := w.publish(ctx, "budget.yaml", budgetPolicy); err != nil {
					t.Fatal(err)
				}
				if out := w.call(t, "payments.send", "invoice:1", 42); out.Decision.PolicyVersion != 2 {
					t.Fatalf("decision used version %d, want 2", out.Decision.PolicyVersion)
				}
				env, err := policy.SignChange(w.aliceKey, policy.Change{Org: w.c.Org(), Admin: w.alice.DID, Activate: 1, Base: 2, Created: time.Now()})
				if err != nil {
					t.Fatal(err)
				}
				lg := w.c.Ledger() // nil in the hosted profile: the server attests
				var before uint64
				if lg != nil {
					cp, _, _ := lg.Checkpoint(ctx)
					before = cp.Size
				}
				if p, err := w.c.ActivatePolicy(ctx, env); err != nil || p.Version != 1 {
					t.Fatalf("rollback: %v %v", p, err)
				}
				if lg != nil {
					if after, _, _ := lg.Checkpoint(ctx); after.Size != before+1 {
						t.Fatalf("rollback not attested: ledger %d -> %d", before, after.Size)
					}
				}
				if out := w.call(t, "payments.send", "invoice:1", 42); out.Decision.PolicyVersion != 1 || out.Decision.Rule != "small-payments" {
					t.Fatalf("after rollback: v%d by %s", out.Decision.PolicyVersion, out.Decision.Rule)
				}
				// Replaying the same signed rollback changes nothing.
				if _, err := w.c.ActivatePolicy(ctx, env); !errors.Is(err, errs.ErrConflict) {
					t.Fatalf("replayed rollback: %v, want ErrConflict", err)
				}
			})
			t.Run("shadow policy reports diffs without enforcing", func(t *testing.T) {
				w := setup(t, profile(t))
				s, err := w.c.StartShadow("candidate.yaml", []byte(strings.Replace(testPolicy, "<= 100.0", "<= 10.0", 1)))
				if errors.Is(err, errs.ErrFailedPrecondition) {
					t.Skip("shadow runs where the policy is evaluated; this profile evaluates on a server:", err)
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, amt := range []float64{5, 42, 60} {
					if out := w.call(t, "payments.send", "invoice:1", amt); out.Status != human.Allowed {
						t.Fatalf("shadow enforced: %s", out.Reason)
					}
				}
				if got := w.c.StopShadow(); got != s {
					t.Fatal("StopShadow returned another shadow")
				}
				if err := s.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				r := s.Report()
				if r.Observed != 3 || r.Different != 2 || len(r.Diffs) != 1 || r.Diffs[0].CandidateEffect != policy.Deny || r.Diffs[0].ActiveRule != "small-payments" {
					t.Fatalf("report %+v", r)
				}
			})
		})
	}
}

// TestAttackPolicyChanges: only a policy admin's own signature changes
// policy, and nothing changes when a check fails.
func TestAttackPolicyChanges(t *testing.T) {
	w := setup(t, profiles["memory"](t))
	ctx := context.Background()
	doc := []byte("policy: open\nrules:\n  - id: all\n    actions: [\"*\"]\n    effect: allow\n")
	sign := func(key passport.Signer, who string, c policy.Change) *passport.Envelope {
		t.Helper()
		c.Org, c.Admin, c.Created = w.c.Org(), who, time.Now()
		if c.Activate == 0 {
			c.Document, c.Filename, c.Base = doc, "open.yaml", 1
		}
		env, err := policy.SignChange(key, c)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	forged := sign(w.aliceKey, w.alice.DID, policy.Change{})
	forged.Payload = []byte(strings.Replace(string(forged.Payload), `"base":1`, `"base":1 `, 1))
	otherOrg := sign(w.aliceKey, w.alice.DID, policy.Change{})
	otherOrg.Payload = []byte(strings.Replace(string(otherOrg.Payload), `"org":"`+w.c.Org()+`"`, `"org":"evil"`, 1))
	for _, c := range []struct {
		name   string
		change *passport.Envelope
		want   error
	}{
		{"non-admin human (bob)", sign(w.bobKey, w.bob.DID, policy.Change{}), errs.ErrPermissionDenied},
		{"alice's DID with bob's key", sign(w.bobKey, w.alice.DID, policy.Change{}), errs.ErrUnauthenticated},
		{"tampered payload", forged, errs.ErrUnauthenticated},
		{"agent passport", sign(w.agentKey, w.agent.DID, policy.Change{}), errs.ErrPermissionDenied},
		{"another org's change", otherOrg, errs.ErrPermissionDenied},
		{"stale base (replay)", func() *passport.Envelope {
			env, _ := policy.SignChange(w.aliceKey, policy.Change{Org: w.c.Org(), Admin: w.alice.DID, Filename: "x.yaml", Document: doc, Base: 0, Created: time.Now()})
			return env
		}(), errs.ErrConflict},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := w.c.PublishPolicy(ctx, c.change); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if p, _ := w.c.ActivePolicy(ctx); p.Version != 1 {
				t.Fatalf("active version changed to %d", p.Version)
			}
		})
	}
}
