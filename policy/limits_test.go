package policy_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
)

const budgetYAML = `policy: spend
rules:
  - id: pay
    description: Agents may pay invoices.
    actions: ["payments.send"]
    effect: allow
    limits:
      - name: daily-usd
        amount: request.attributes.amount
        max: 500
        window: 24h
  - id: rate
    description: At most 3 calls a minute per agent.
    actions: ["*"]
    effect: limit
    limits:
      - max: 3
        window: 1m
  - id: big
    actions: ["payments.send"]
    condition: double(request.attributes.amount) > 1000.0
    effect: require_approval
    approval:
      capability: finance.approver
      timeout: 15m
      escalation:
        - capability: finance.director
          timeout: 30m
        - team: cfo-office
          timeout: 1h
      exclude: ["did:human:intern", "contractors"]
`

func TestParseEscalationAndLimits(t *testing.T) {
	doc, err := policy.Parse("spend.yaml", []byte(budgetYAML))
	if err != nil {
		t.Fatal(err)
	}
	a := doc.Rules[2].Approval
	want := &policy.Approval{Capability: "finance.approver", Quorum: 1, Timeout: 15 * time.Minute, OnTimeout: policy.OnTimeoutEscalate,
		Escalation: []policy.EscalationStep{{Capability: "finance.director", Timeout: 30 * time.Minute}, {Team: "cfo-office", Timeout: time.Hour}},
		Exclude:    []string{"did:human:intern", "contractors"}}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("approval = %+v\nwant %+v", a, want)
	}
	if got := doc.Rules[1].Limits; len(got) != 1 || got[0] != (policy.Limit{Name: "calls", Per: policy.PerAgent, Max: 3, Window: time.Minute}) {
		t.Fatalf("rate limit = %+v", got)
	}
	if got := doc.Rules[0].Limits[0]; got.Name != "daily-usd" || got.Amount != "request.attributes.amount" || got.Max != 500 {
		t.Fatalf("budget = %+v", got)
	}
}

func TestLimitLoadErrors(t *testing.T) {
	base := "policy: p\nrules:\n  - id: r\n    actions: [a]\n"
	cases := []struct{ name, src, want string }{
		{"limit effect without limits", base + "    effect: limit\n", "3:5: rule r: effect limit needs a limits list"},
		{"limits on deny", base + "    effect: deny\n    limits: [{max: 1, window: 1m}]\n", "6:13: rule r: limits are not allowed with effect deny"},
		{"bad per", base + "    effect: allow\n    limits: [{max: 1, window: 1m, per: team}]\n", `per "team" must be agent, requester or org`},
		{"bad window", base + "    effect: allow\n    limits: [{max: 1, window: soon}]\n", `6:31: rule r: limit.window "soon"`},
		{"negative max", base + "    effect: allow\n    limits: [{max: -1, window: 1m}]\n", "max must be between 0"},
		{"max not a number", base + "    effect: allow\n    limits: [{max: lots, window: 1m}]\n", `6:20: rule r: limit.max must be a number`},
		{"unknown limit field", base + "    effect: allow\n    limits: [{max: 1, window: 1m, burst: 2}]\n", `unknown field "burst"`},
		{"duplicate names", base + "    effect: allow\n    limits: [{max: 1, window: 1m}, {max: 2, window: 1h}]\n", `limit name "calls" used twice`},
		{"amount type", base + "    effect: allow\n    limits:\n      - amount: request.action == \"x\"\n        max: 1\n        window: 1m\n",
			"7:17: rule r: limit amount: amount must be a number, but has type bool"},
		{"amount syntax", base + "    effect: allow\n    limits:\n      - amount: request.attributes.x +\n        max: 1\n        window: 1m\n",
			"7:"},
		{"escalation step with both", base + "    effect: require_approval\n    approval:\n      capability: c\n      timeout: 1m\n      escalation: [{capability: d, team: t, timeout: 1m}]\n",
			"exactly one of capability and team"},
		{"escalation without timeout", base + "    effect: require_approval\n    approval:\n      capability: c\n      timeout: 1m\n      escalation: [{team: t}]\n",
			`escalation step: missing field "timeout"`},
		{"escalation with on_timeout deny", base + "    effect: require_approval\n    approval:\n      capability: c\n      timeout: 1m\n      on_timeout: deny\n      escalation: [{team: t, timeout: 1m}]\n",
			"use on_timeout: escalate"},
		{"exclude not a list", base + "    effect: require_approval\n    approval:\n      capability: c\n      timeout: 1m\n      exclude: bob\n",
			"approval.exclude must be a list"},
	}
	e := mustEngine(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := policy.Parse("p.yaml", []byte(c.src))
			if err == nil {
				_, err = e.Compile(doc)
			}
			if !errors.Is(err, errs.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestEffects covers every effect, with and without limits, and what each
// puts in the decision.
func TestEffects(t *testing.T) {
	e := mustEngine(t, nil)
	p := mustCompile(t, e, budgetYAML)
	in := func(action string, amount float64) policy.Input {
		return policy.Input{Org: "acme", Agent: "did:agent:1", Requester: "did:human:alice", Action: action,
			Attributes: map[string]any{"amount": amount}}
	}
	cases := []struct {
		name        string
		in          policy.Input
		effect      policy.Effect
		rule        string
		matched     string
		obligations string
	}{
		{"allow with budget and rate", in("payments.send", 42), policy.Allow, "pay", "pay,rate", "pay/daily-usd=42,rate/calls=1"},
		{"approval with escalation keeps limits", in("payments.send", 5000), policy.RequireApproval, "big", "pay,rate,big", "pay/daily-usd=5000,rate/calls=1"},
		{"limit alone does not allow", in("reports.read", 1), policy.Deny, "", "rate", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := e.Evaluate(context.Background(), p, c.in)
			if err != nil {
				t.Fatal(err)
			}
			var obs []string
			for _, o := range d.Obligations {
				obs = append(obs, fmt.Sprintf("%s/%s=%v", o.Rule, o.Name, o.Amount))
			}
			if d.Effect != c.effect || d.Rule != c.rule || ruleIDs(d.Matched) != c.matched || strings.Join(obs, ",") != c.obligations {
				t.Fatalf("got %s by %q matched %q obligations %v (%s)", d.Effect, d.Rule, ruleIDs(d.Matched), obs, d.Reason)
			}
		})
	}
	d, _ := e.Evaluate(context.Background(), p, in("payments.send", 5000))
	if len(d.Approval.Escalation) != 2 || len(d.Approval.Exclude) != 2 ||
		!strings.Contains(d.Reason, "then escalates to holders of finance.director for 30m, then escalates to team cfo-office for 1h") ||
		!strings.Contains(d.Reason, "excluded from approving: did:human:intern, contractors") {
		t.Fatalf("approval %+v reason %q", d.Approval, d.Reason)
	}
	d.Approval.Escalation[0].Capability = "nobody" // the caller's copy
	d2, _ := e.Evaluate(context.Background(), p, in("payments.send", 5000))
	if d2.Approval.Escalation[0].Capability != "finance.director" {
		t.Fatal("a decision's approval aliases the compiled policy")
	}
}

// TestAttackDodgeBudget: omitting, faking or negating the amount must not
// skip or refill a budget.
func TestAttackDodgeBudget(t *testing.T) {
	e := mustEngine(t, nil)
	p := mustCompile(t, e, budgetYAML)
	for name, attrs := range map[string]map[string]any{
		"missing amount":  {},
		"string amount":   {"amount": "0"},
		"negative amount": {"amount": -400.0},
		"huge amount":     {"amount": 1e300},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := e.Evaluate(context.Background(), p, policy.Input{Org: "acme", Agent: "did:agent:1", Action: "payments.send", Attributes: attrs})
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != policy.Deny || len(d.Obligations) != 0 || !strings.Contains(d.Reason, "fail closed") {
				t.Fatalf("got %s (%s) obligations %v; want a fail-closed deny", d.Effect, d.Reason, d.Obligations)
			}
		})
	}
	// A limit rule whose condition errors denies instead of being skipped.
	p2 := mustCompile(t, e, "policy: p\nrules:\n  - id: a\n    actions: [\"*\"]\n    effect: allow\n"+
		"  - id: l\n    actions: [\"*\"]\n    condition: request.attributes.tier == \"free\"\n    effect: limit\n    limits: [{max: 1, window: 1m}]\n")
	d, _ := e.Evaluate(context.Background(), p2, policy.Input{Org: "acme", Agent: "did:agent:1", Action: "x"})
	if d.Effect != policy.Deny || d.Rule != "l" {
		t.Fatalf("erroring limit rule: %s by %q (%s)", d.Effect, d.Rule, d.Reason)
	}
}

// TestBudgetsConcurrentNoOverspend: many goroutines spending one agent's
// daily budget through Budgets.Charge never exceed it.
func TestBudgetsConcurrentNoOverspend(t *testing.T) {
	e := mustEngine(t, nil)
	p := mustCompile(t, e, "policy: p\nrules:\n  - id: pay\n    actions: [pay]\n    effect: allow\n"+
		"    limits: [{name: usd, amount: request.attributes.amount, max: 500, window: 24h}]\n")
	b := policy.NewBudgets(memory.NewBudgetStore())
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var allowed atomic.Int64
	var spent atomic.Int64 // in cents
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				d, err := e.Evaluate(context.Background(), p, policy.Input{Org: "acme", Agent: "did:agent:1", Action: "pay",
					Attributes: map[string]any{"amount": 7.5}})
				if err == nil {
					err = b.Charge(context.Background(), "acme", &d, now)
				}
				if err != nil {
					t.Error(err)
					return
				}
				if d.Effect == policy.Allow {
					allowed.Add(1)
					spent.Add(750)
					if d.Obligations[0].Total > 500 || !strings.Contains(d.Reason, "of 500 used this 24h window") {
						t.Errorf("allowed with %+v (%s)", d.Obligations, d.Reason)
					}
				} else if !strings.Contains(d.Reason, "limit usd for agent did:agent:1 is used up") {
					t.Errorf("denial reason %q", d.Reason)
				}
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 66 || spent.Load() != 49500 { // 66 * 7.5 = 495; a 67th would make 502.5
		t.Fatalf("allowed %d spending %d cents; want 66 and 49500", allowed.Load(), spent.Load())
	}
	// The next day starts afresh.
	d, _ := e.Evaluate(context.Background(), p, policy.Input{Org: "acme", Agent: "did:agent:1", Action: "pay", Attributes: map[string]any{"amount": 500.0}})
	if err := b.Charge(context.Background(), "acme", &d, now.Add(24*time.Hour)); err != nil || d.Effect != policy.Allow {
		t.Fatalf("next day: %s %v", d.Reason, err)
	}
}

// unavailableBudgets is a fake BudgetStore for the one case no real store
// can be made to produce on demand: an outage.
type unavailableBudgets struct{}

func (unavailableBudgets) Spend(context.Context, string, []policy.Charge) (policy.Spent, error) {
	return policy.Spent{}, errs.Errorf(errs.ErrUnavailable, "budget store down")
}

func TestAttackBudgetStoreDownNeverAllows(t *testing.T) {
	e := mustEngine(t, nil)
	p := mustCompile(t, e, budgetYAML)
	d, _ := e.Evaluate(context.Background(), p, policy.Input{Org: "acme", Agent: "did:agent:1", Action: "payments.send", Attributes: map[string]any{"amount": 1.0}})
	err := policy.NewBudgets(unavailableBudgets{}).Charge(context.Background(), "acme", &d, time.Now())
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if err := policy.NewBudgets(nil).Charge(context.Background(), "acme", &d, time.Now()); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("no store: err = %v, want ErrFailedPrecondition", err)
	}
}

// TestIndexMatchesScan: the action index gives the same decisions as
// looking at every rule, for exact, prefix and unknown actions.
func TestIndexMatchesScan(t *testing.T) {
	var b strings.Builder
	b.WriteString("policy: big\nrules:\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "  - id: r%d\n    actions: [\"svc%d.op\"]\n    effect: allow\n", i, i%50)
	}
	b.WriteString("  - id: wild\n    actions: [\"svc1*\"]\n    effect: require_approval\n    approval: {capability: c, timeout: 1m}\n")
	b.WriteString("  - id: all\n    actions: [\"*\"]\n    condition: request.resource == \"secret\"\n    effect: deny\n")
	e := mustEngine(t, nil)
	p := mustCompile(t, e, b.String())
	for _, c := range []struct{ action, resource, want, rule, matched string }{
		{"svc3.op", "r", "allow", "r3", "r3,r53,r103,r153"},
		{"svc12.op", "r", "require_approval", "wild", "r12,r62,r112,r162,wild"},
		{"svc1x", "r", "require_approval", "wild", "wild"},
		{"svc3.op", "secret", "deny", "all", "r3,r53,r103,r153,all"},
		{"other", "r", "deny", "", ""},
		{"other", "secret", "deny", "all", "all"},
	} {
		for i := 0; i < 2; i++ { // the second time from the index cache
			d, err := e.Evaluate(context.Background(), p, policy.Input{Action: c.action, Resource: c.resource})
			if err != nil {
				t.Fatal(err)
			}
			if string(d.Effect) != c.want || d.Rule != c.rule || ruleIDs(d.Matched) != c.matched {
				t.Fatalf("%s on %s: %s by %q matched %q; want %s by %q matched %q", c.action, c.resource, d.Effect, d.Rule,
					ruleIDs(d.Matched), c.want, c.rule, c.matched)
			}
		}
	}
}

func TestSignedChange(t *testing.T) {
	key, _ := passport.GenerateEd25519()
	did := "did:human:" + strings.Repeat("a", 64)
	c := policy.Change{Org: "acme", Admin: did, Filename: "p.yaml", Document: []byte("policy: p\nrules: []\n"), Base: 3, Created: time.Unix(1e9, 0).UTC()}
	env, err := policy.SignChange(key, c)
	if err != nil {
		if errors.Is(err, errs.ErrInvalidArgument) && !passport.ValidDID(did) {
			t.Skip("DID format differs; covered by the Client scenarios")
		}
		t.Fatal(err)
	}
	got, err := policy.ParseChange(env)
	if err != nil || !reflect.DeepEqual(*got, c) {
		t.Fatalf("ParseChange = %+v, %v", got, err)
	}
	if err := env.VerifiedBy(key.PublicKey()); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]policy.Change{
		"both":     {Org: "acme", Admin: did, Document: []byte("x"), Activate: 2, Created: c.Created},
		"neither":  {Org: "acme", Admin: did, Created: c.Created},
		"no org":   {Admin: did, Activate: 1, Created: c.Created},
		"bad DID":  {Org: "acme", Admin: "bob", Activate: 1, Created: c.Created},
		"no time":  {Org: "acme", Admin: did, Activate: 1},
		"negative": {Org: "acme", Admin: did, Activate: 1, Base: -1, Created: c.Created},
	} {
		if _, err := policy.SignChange(key, bad); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	env.PayloadType = "text/plain"
	if _, err := policy.ParseChange(env); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("wrong payload type: %v", err)
	}
}

func TestLibraryPublishAtAndActivateFrom(t *testing.T) {
	ctx := context.Background()
	lib := policy.NewLibrary(memory.NewPolicyStore(), mustEngine(t, nil))
	if _, err := lib.PublishAt(ctx, "acme", "a.yaml", []byte(paymentsYAML), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.PublishAt(ctx, "acme", "b.yaml", []byte("policy: b\nrules: []\n"), 0); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("replayed base 0: %v, want ErrConflict", err)
	}
	if p, err := lib.PublishAt(ctx, "acme", "b.yaml", []byte("policy: b\nrules: []\n"), 1); err != nil || p.Version != 2 {
		t.Fatalf("publish at 1: %+v %v", p, err)
	}
	if _, err := lib.ActivateFrom(ctx, "acme", 1, 1); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("activate from a stale active version: %v, want ErrConflict", err)
	}
	if p, err := lib.ActivateFrom(ctx, "acme", 1, 2); err != nil || p.Version != 1 {
		t.Fatalf("rollback: %+v %v", p, err)
	}
	if a, _ := lib.Active(ctx, "acme"); a.Version != 1 {
		t.Fatalf("active after rollback = %d", a.Version)
	}
	if n, _ := lib.Latest(ctx, "acme"); n != 2 {
		t.Fatalf("latest = %d", n)
	}
}

func TestShadowDiffs(t *testing.T) {
	e := mustEngine(t, nil)
	active := mustCompile(t, e, paymentsYAML)
	candidate := mustCompile(t, e, `policy: payments-v2
rules:
  - id: small-payments
    actions: ["payments.send"]
    condition: double(request.attributes.amount) <= 50.0
    effect: allow
  - id: large-payments
    actions: ["payments.send"]
    condition: double(request.attributes.amount) > 50.0
    effect: require_approval
    approval: {capability: finance.approver, quorum: 2, timeout: 15m}
`)
	s := policy.NewShadow(e, candidate, policy.WithSamples(2))
	ctx := context.Background()
	for _, amt := range []float64{10, 20, 60, 70, 80, 500} {
		in := policy.Input{Org: "acme", Action: "payments.send", Resource: "invoice:1", Agent: "did:agent:1", Attributes: map[string]any{"amount": amt}}
		d, err := e.Evaluate(ctx, active, in)
		if err != nil {
			t.Fatal(err)
		}
		s.Observe(in, d)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r := s.Report()
	if r.Observed != 6 || r.Same != 2 || r.Different != 4 || r.Dropped != 0 || len(r.Diffs) != 2 {
		t.Fatalf("report %+v", r)
	}
	g := r.Diffs[0]
	if g.ActiveEffect != policy.Allow || g.ActiveRule != "small-payments" || g.CandidateEffect != policy.RequireApproval ||
		g.CandidateRule != "large-payments" || g.Count != 3 || len(g.Samples) != 2 {
		t.Fatalf("first group %+v", g)
	}
	// 500 needs approval under both, but the quorum differs: a diff too.
	if g := r.Diffs[1]; g.Count != 1 || g.ActiveEffect != policy.RequireApproval || g.Samples[0].CandidateApproval.Quorum != 2 {
		t.Fatalf("second group %+v", g)
	}
}

func TestShadowDropsWhenFull(t *testing.T) {
	e := mustEngine(t, nil)
	p := mustCompile(t, e, paymentsYAML)
	s := policy.NewShadow(e, p, policy.WithQueue(1))
	for i := 0; i < 1000; i++ {
		s.Observe(policy.Input{Action: "payments.send", Attributes: map[string]any{"amount": 1.0}}, policy.Decision{Effect: policy.Allow})
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := s.Report(); r.Observed+r.Dropped != 1000 {
		t.Fatalf("observed %d + dropped %d != 1000", r.Observed, r.Dropped)
	}
}
