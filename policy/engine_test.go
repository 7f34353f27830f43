package policy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

// fakeCaps is a test double of the Capabilities interface we own: it
// answers from a set and records the contexts and orgs it was asked with.
type fakeCaps struct {
	mu    sync.Mutex
	held  map[string]bool // subject + " " + capability
	err   error
	calls int
	orgs  []string
	ctxs  []context.Context
}

func (f *fakeCaps) Holds(ctx context.Context, org, subject, capability string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.orgs = append(f.orgs, org)
	f.ctxs = append(f.ctxs, ctx)
	if f.err != nil {
		return false, f.err
	}
	return f.held[subject+" "+capability], nil
}

func mustCompile(t testing.TB, e *policy.Engine, src string) *policy.Policy {
	t.Helper()
	doc, err := policy.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustEngine(t testing.TB, caps policy.Capabilities, opts ...policy.Option) *policy.Engine {
	t.Helper()
	e, err := policy.NewEngine(caps, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ruleIDs(ms []policy.Match) string {
	var ids []string
	for _, m := range ms {
		id := m.Rule
		if m.Err != "" {
			id += "!"
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, ",")
}

func TestEvaluatePayments(t *testing.T) {
	caps := &fakeCaps{held: map[string]bool{"did:human:frozen finance.frozen": true}}
	e := mustEngine(t, caps)
	p := mustCompile(t, e, paymentsYAML)
	cases := []struct {
		name       string
		in         policy.Input
		effect     policy.Effect
		rule       string
		matched    string
		reasonPart string
	}{
		{"small payment allowed", policy.Input{Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": 50.0}},
			policy.Allow, "small-payments", "small-payments", "rule small-payments allows the request: Agents may pay small invoices on their own."},
		{"int attribute compares with double", policy.Input{Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": 100}},
			policy.Allow, "small-payments", "small-payments", "allows"},
		{"large payment needs approval", policy.Input{Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": 500.0}},
			policy.RequireApproval, "large-payments", "large-payments",
			"rule large-payments requires 1 approval by a holder of finance.approver within 15m: Large payments need finance."},
		{"resource outside the allow rule", policy.Input{Action: "payments.send", Resource: "payroll:1", Attributes: map[string]any{"amount": 5.0}},
			policy.Deny, "", "", "no rule of policy payments matches"},
		{"unknown action default deny", policy.Input{Action: "hr.fire", Resource: "employee:1"},
			policy.Deny, "", "", "denied by default"},
		{"frozen requester denied over approval", policy.Input{Action: "payments.wire", Requester: "did:human:frozen", Attributes: map[string]any{"amount": 500.0}},
			policy.Deny, "frozen", "large-payments,frozen", "rule frozen denies the request"},
		{"unfrozen wire needs approval", policy.Input{Action: "payments.wire", Requester: "did:human:ok", Attributes: map[string]any{"amount": 500.0}},
			policy.RequireApproval, "large-payments", "large-payments", "requires"},
		{"missing attribute: allow rule does not apply", policy.Input{Action: "payments.send", Resource: "invoice:1"},
			policy.Deny, "", "small-payments!,large-payments!", "denied by default"},
		{"wrong attribute type", policy.Input{Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": "lots"}},
			policy.Deny, "", "small-payments!,large-payments!", "denied by default"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.Org = "acme"
			d, err := e.Evaluate(context.Background(), p, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != c.effect || d.Rule != c.rule || ruleIDs(d.Matched) != c.matched || !strings.Contains(d.Reason, c.reasonPart) {
				t.Fatalf("decision = %s by %q, matched %q, reason %q; want %s by %q, matched %q, reason containing %q",
					d.Effect, d.Rule, ruleIDs(d.Matched), d.Reason, c.effect, c.rule, c.matched, c.reasonPart)
			}
			if (d.Effect == policy.RequireApproval) != (d.Approval != nil) {
				t.Fatalf("approval %+v with effect %s", d.Approval, d.Effect)
			}
			if d.PolicyDigest != p.Digest || len(d.PolicyDigest) != 64 {
				t.Fatalf("digest %q", d.PolicyDigest)
			}
		})
	}
}

func TestCombining(t *testing.T) {
	rule := func(id, effect, extra string) string {
		return fmt.Sprintf("  - id: %s\n    actions: [\"*\"]\n    effect: %s\n%s", id, effect, extra)
	}
	appr := func(q int, d string) string {
		return fmt.Sprintf("    approval: {capability: cap-q%d-%s, quorum: %d, timeout: %s}\n", q, d, q, d)
	}
	never := "    condition: request.action == \"never\"\n"
	cases := []struct {
		name    string
		rules   []string
		effect  policy.Effect
		rule    string
		matched string
	}{
		{"no rules: default deny", nil, policy.Deny, "", ""},
		{"only non-matching", []string{rule("a", "allow", never)}, policy.Deny, "", ""},
		{"allow", []string{rule("a", "allow", "")}, policy.Allow, "a", "a"},
		{"first allow decides", []string{rule("a", "allow", ""), rule("b", "allow", "")}, policy.Allow, "a", "a,b"},
		{"deny overrides allow", []string{rule("a", "allow", ""), rule("d", "deny", "")}, policy.Deny, "d", "a,d"},
		{"deny overrides approval", []string{rule("r", "require_approval", appr(1, "1m")), rule("d", "deny", "")}, policy.Deny, "d", "r,d"},
		{"approval overrides allow", []string{rule("a", "allow", ""), rule("r", "require_approval", appr(1, "1m"))}, policy.RequireApproval, "r", "a,r"},
		{"larger quorum wins", []string{rule("r1", "require_approval", appr(1, "1m")), rule("r2", "require_approval", appr(2, "1h"))},
			policy.RequireApproval, "r2", "r1,r2"},
		{"same quorum: shorter timeout wins", []string{rule("r1", "require_approval", appr(2, "1h")), rule("r2", "require_approval", appr(2, "10m"))},
			policy.RequireApproval, "r2", "r1,r2"},
		{"full tie: first wins", []string{rule("r1", "require_approval", appr(2, "1h")), rule("r2", "require_approval", appr(2, "1h"))},
			policy.RequireApproval, "r1", "r1,r2"},
		{"non-matching deny ignored", []string{rule("d", "deny", never), rule("a", "allow", "")}, policy.Allow, "a", "a"},
		{"erroring deny fails closed", []string{rule("a", "allow", ""), rule("d", "deny", "    condition: request.attributes.missing > 1\n")},
			policy.Deny, "d", "a,d!"},
		{"erroring approval not applied", []string{rule("a", "allow", ""), rule("r", "require_approval", "    condition: request.attributes.missing > 1\n"+appr(1, "1m"))},
			policy.Allow, "a", "a,r!"},
	}
	e := mustEngine(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "policy: combine\nrules:\n" + strings.Join(c.rules, "")
			if c.rules == nil {
				src = "policy: combine\nrules: []\n"
			}
			p := mustCompile(t, e, src)
			d, err := e.Evaluate(context.Background(), p, policy.Input{Org: "acme", Action: "x.y", Resource: "r"})
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != c.effect || d.Rule != c.rule || ruleIDs(d.Matched) != c.matched {
				t.Fatalf("got %s by %q matched %q (%s); want %s by %q matched %q", d.Effect, d.Rule, ruleIDs(d.Matched), d.Reason,
					c.effect, c.rule, c.matched)
			}
			if d.Effect == policy.RequireApproval && !strings.HasPrefix(d.Approval.Capability, "cap-") {
				t.Fatalf("approval %+v", d.Approval)
			}
		})
	}
}

func TestMatchPattern(t *testing.T) {
	cases := []struct {
		pattern, value string
		want           bool
	}{
		{"*", "", true},
		{"*", "payments.send", true},
		{"payments.*", "payments.send", true},
		{"payments.*", "payments.wire.intl", true},
		{"payments.*", "payments", false},
		{"payments.*", "payments.", true},
		{"payments.*", "paymentsX", false},
		{"payments.send", "payments.send", true},
		{"payments.send", "payments.sender", false},
		{"payments.send", "Payments.send", false},
		{"invoice:*", "invoice:42", true},
		{"pay*ments", "pay*ments", false},
		{"pay*ments", "paymentsments", false},
		{"**", "x", false},
		{"", "", true},
	}
	for _, c := range cases {
		if got := policy.MatchPattern(c.pattern, c.value); got != c.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", c.pattern, c.value, got, c.want)
		}
	}
}

func TestConditionVariables(t *testing.T) {
	e := mustEngine(t, nil)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	in := policy.Input{
		Org: "acme", Action: "payments.send", Resource: "invoice:7", Agent: "did:agent:1", Requester: "did:human:alice", Now: now,
		Attributes: map[string]any{"amount": 42.5, "currency": "EUR", "tags": []string{"urgent"}},
		AgentScope: policy.Scope{Actions: []string{"payments.*"}, Resources: []string{"invoice:*"}, Limits: map[string]float64{"amount": 100}},
	}
	conds := []string{
		`request.action == "payments.send" && request.resource == "invoice:7"`,
		`request.attributes.currency == "EUR" && "urgent" in request.attributes.tags`,
		`agent.did == "did:agent:1" && "payments.*" in agent.scope.actions`,
		`double(request.attributes.amount) <= agent.scope.limits.amount`,
		`requester == "did:human:alice" && org == "acme"`,
		`now == timestamp("2025-03-01T12:00:00Z") && now.getDayOfWeek() == 6`,
		`has(request.attributes.amount) && !has(request.attributes.missing)`,
		`holds(requester, "anything") == false`, // nil Capabilities: holds is false
	}
	for _, c := range conds {
		p := mustCompile(t, e, "policy: vars\nrules:\n  - id: r\n    actions: [\"*\"]\n    condition: '"+c+"'\n    effect: allow\n")
		d, err := e.Evaluate(context.Background(), p, in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Effect != policy.Allow {
			t.Errorf("condition %s: %s (%s, %+v)", c, d.Effect, d.Reason, d.Matched)
		}
	}
}

func TestHoldsWiring(t *testing.T) {
	caps := &fakeCaps{held: map[string]bool{"did:human:bob finance.approver": true}}
	e := mustEngine(t, caps)
	p := mustCompile(t, e, `policy: h
rules:
  - id: approvers-may
    actions: ["*"]
    condition: holds(requester, "finance.approver") && holds(requester, "finance.approver")
    effect: allow
  - id: also
    actions: ["*"]
    condition: holds(requester, "finance.approver")
    effect: allow
`)
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "marker")
	d, err := e.Evaluate(ctx, p, policy.Input{Org: "acme", Action: "a", Requester: "did:human:bob"})
	if err != nil || d.Effect != policy.Allow {
		t.Fatalf("bob: %+v, %v", d, err)
	}
	if caps.calls != 1 {
		t.Errorf("Holds called %d times for one question in one evaluation, want 1 (memoised)", caps.calls)
	}
	if caps.orgs[0] != "acme" || caps.ctxs[0].Value(key{}) != "marker" {
		t.Errorf("Holds got org %q and a context without the caller's values", caps.orgs[0])
	}
	d, _ = e.Evaluate(ctx, p, policy.Input{Org: "acme", Action: "a", Requester: "did:human:eve"})
	if d.Effect != policy.Deny {
		t.Errorf("eve: %s", d.Effect)
	}
}

// TestAttackCapabilityErrorFailsClosed: a failing capability look-up must
// never let a request through, even when it only guards an allow rule's
// negation.
func TestAttackCapabilityErrorFailsClosed(t *testing.T) {
	caps := &fakeCaps{err: errs.Errorf(errs.ErrUnavailable, "graph down")}
	e := mustEngine(t, caps)
	p := mustCompile(t, e, `policy: h
rules:
  - id: unless-frozen
    actions: ["*"]
    condition: '!holds(requester, "frozen")'
    effect: allow
  - id: plain-allow
    actions: ["*"]
    effect: allow
`)
	d, err := e.Evaluate(context.Background(), p, policy.Input{Org: "acme", Action: "a", Requester: "did:human:x"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Effect != policy.Deny || d.Rule != "unless-frozen" || !strings.Contains(d.Reason, "fail closed") || !strings.Contains(d.Reason, "graph down") {
		t.Fatalf("decision = %+v; want a fail-closed deny naming the look-up error", d)
	}
	if ruleIDs(d.Matched) != "unless-frozen!,plain-allow" {
		t.Fatalf("matched = %q", ruleIDs(d.Matched))
	}
}

// TestAttackOmitAttributeToDodgeDeny: leaving out the attribute a deny
// rule tests must not get a request past it.
func TestAttackOmitAttributeToDodgeDeny(t *testing.T) {
	e := mustEngine(t, nil)
	p := mustCompile(t, e, `policy: p
rules:
  - id: all
    actions: ["*"]
    effect: allow
  - id: no-big
    actions: ["*"]
    condition: request.attributes.amount > 1000
    effect: deny
`)
	for _, attrs := range []map[string]any{nil, {}, {"amount": "9999"}, {"amount": []int{1}}} {
		d, err := e.Evaluate(context.Background(), p, policy.Input{Org: "o", Action: "pay", Attributes: attrs})
		if err != nil || d.Effect != policy.Deny || d.Rule != "no-big" || d.Matched[1].Err == "" {
			t.Errorf("attributes %v: %+v, %v; want fail-closed deny by no-big", attrs, d, err)
		}
	}
}

// TestAttackMutateAfterCompile: a compiled Policy cannot be changed
// through the Document it was compiled from, nor through a Decision.
func TestAttackMutateAfterCompile(t *testing.T) {
	e := mustEngine(t, nil)
	doc, _ := policy.Parse("p.yaml", []byte(paymentsYAML))
	p, _ := e.Compile(doc)
	doc.Rules[0].Effect = policy.Deny
	doc.Rules[1].Approval.Quorum = 0
	doc.Source[0] = 'X'
	in := policy.Input{Org: "o", Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": 500.0}}
	d, _ := e.Evaluate(context.Background(), p, in)
	if d.Effect != policy.RequireApproval || d.Approval.Quorum != 1 || p.Document.Source[0] != 'p' {
		t.Fatalf("mutating the source document changed the policy: %+v", d)
	}
	d.Approval.Quorum = 0
	d2, _ := e.Evaluate(context.Background(), p, in)
	if d2.Approval.Quorum != 1 {
		t.Fatal("mutating a decision's approval changed the policy")
	}
}

func TestCostLimit(t *testing.T) {
	e := mustEngine(t, nil, policy.WithCostLimit(1000))
	p := mustCompile(t, e, `policy: p
rules:
  - id: all
    actions: ["*"]
    effect: allow
  - id: expensive-deny
    actions: ["*"]
    condition: request.attributes.items.all(x, request.attributes.items.all(y, x + y >= 0))
    effect: deny
  - id: expensive-approval
    actions: ["*"]
    condition: request.attributes.items.exists(x, request.attributes.items.exists(y, x + y < 0))
    effect: require_approval
    approval: {capability: c, timeout: 1m}
`)
	items := make([]int, 2000)
	start := time.Now()
	d, err := e.Evaluate(context.Background(), p, policy.Input{Org: "o", Action: "a", Attributes: map[string]any{"items": items}})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("cost limit did not stop the conditions quickly")
	}
	if d.Effect != policy.Deny || d.Rule != "expensive-deny" || ruleIDs(d.Matched) != "all,expensive-deny!,expensive-approval!" {
		t.Fatalf("decision %+v", d)
	}
	if !strings.Contains(d.Matched[1].Err, "cost") {
		t.Errorf("error %q does not mention the cost limit", d.Matched[1].Err)
	}
	if _, err := policy.NewEngine(nil, policy.WithCostLimit(0)); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Errorf("zero cost limit: %v", err)
	}
}

func TestContextCancellation(t *testing.T) {
	e := mustEngine(t, nil)
	p := mustCompile(t, e, paymentsYAML)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Evaluate(ctx, p, policy.Input{Org: "o", Action: "payments.send"})
	if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
	// Cancelled while a holds() look-up runs: an error, not a decision.
	ctx, cancel = context.WithCancel(context.Background())
	caps := cancelingCaps{cancel}
	e2 := mustEngine(t, caps)
	p2 := mustCompile(t, e2, paymentsYAML)
	_, err = e2.Evaluate(ctx, p2, policy.Input{Org: "o", Action: "payments.wire", Attributes: map[string]any{"amount": 1.0}})
	if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during holds: err = %v", err)
	}
	if _, err := e.Evaluate(context.Background(), nil, policy.Input{}); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("nil policy: %v", err)
	}
}

type cancelingCaps struct{ cancel context.CancelFunc }

func (c cancelingCaps) Holds(ctx context.Context, _, _, _ string) (bool, error) {
	c.cancel()
	return false, ctx.Err()
}

func TestConcurrentEvaluate(t *testing.T) {
	caps := &fakeCaps{held: map[string]bool{}}
	e := mustEngine(t, caps)
	p := mustCompile(t, e, paymentsYAML)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				amount := float64((i*200 + j) % 300)
				d, err := e.Evaluate(context.Background(), p, policy.Input{Org: "o", Action: "payments.send", Resource: "invoice:1",
					Attributes: map[string]any{"amount": amount}})
				want := policy.Allow
				if amount > 100 {
					want = policy.RequireApproval
				}
				if err != nil || d.Effect != want {
					t.Errorf("amount %v: %s, %v", amount, d.Effect, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{15 * time.Minute: "15m", time.Hour: "1h", 90 * time.Minute: "1h30m",
		45 * time.Second: "45s", 2*time.Hour + 5*time.Second: "2h0m5s", 1500 * time.Millisecond: "1.5s"} {
		if got := policy.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// tenRules is a 10-rule policy with one simple condition on the allow path.
var tenRules = func() string {
	var b strings.Builder
	b.WriteString("policy: bench\nrules:\n")
	for i := range 8 {
		fmt.Fprintf(&b, "  - id: other-%d\n    actions: [\"dept%d.*\"]\n    effect: deny\n", i, i)
	}
	b.WriteString("  - id: small\n    actions: [\"payments.send\"]\n    resources: [\"invoice:*\"]\n    condition: request.attributes.amount <= 100.0\n    effect: allow\n")
	b.WriteString("  - id: wires\n    actions: [\"payments.wire\"]\n    effect: require_approval\n    approval: {capability: c, timeout: 1m}\n")
	return b.String()
}()

func BenchmarkEvaluate(b *testing.B) {
	e := mustEngine(b, nil)
	p := mustCompile(b, e, tenRules)
	in := policy.Input{Org: "acme", Action: "payments.send", Resource: "invoice:1", Agent: "did:agent:1",
		Requester: "did:human:1", Attributes: map[string]any{"amount": 50.0}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Evaluate(ctx, p, in)
		if err != nil || d.Effect != policy.Allow {
			b.Fatal(d, err)
		}
	}
}

func BenchmarkEvaluateCancellableContext(b *testing.B) {
	e := mustEngine(b, nil)
	p := mustCompile(b, e, tenRules)
	in := policy.Input{Org: "acme", Action: "payments.send", Resource: "invoice:1", Attributes: map[string]any{"amount": 50.0}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if d, err := e.Evaluate(ctx, p, in); err != nil || d.Effect != policy.Allow {
			b.Fatal(d, err)
		}
	}
}

func ExampleEngine_Evaluate() {
	engine, _ := policy.NewEngine(nil)
	doc, _ := policy.Parse("payments.yaml", []byte(`policy: payments
rules:
  - id: small-payments
    actions: ["payments.send"]
    condition: request.attributes.amount <= 100.0
    effect: allow
  - id: large-payments
    description: finance signs off on large payments
    actions: ["payments.*"]
    condition: request.attributes.amount > 100.0
    effect: require_approval
    approval: {capability: finance.approver, timeout: 15m}
`))
	p, _ := engine.Compile(doc)
	for _, amount := range []float64{40, 2500} {
		d, _ := engine.Evaluate(context.Background(), p, policy.Input{
			Org: "acme", Action: "payments.send", Resource: "invoice:7",
			Attributes: map[string]any{"amount": amount},
		})
		fmt.Printf("%v: %s (%s)\n", amount, d.Effect, d.Reason)
	}
	d, _ := engine.Evaluate(context.Background(), p, policy.Input{Org: "acme", Action: "hr.fire"})
	fmt.Println(d.Effect, d.Reason)
	// Output:
	// 40: allow (rule small-payments allows the request)
	// 2500: require_approval (rule large-payments requires 1 approval by a holder of finance.approver within 15m: finance signs off on large payments)
	// deny no rule of policy payments matches action "hr.fire" on resource ""; denied by default
}
