package policy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

const fixtureYAML = `policies: [payments.yaml]
holds:
  did:human:mallory: [finance.frozen]
cases:
  - name: small
    request: {action: payments.send, resource: invoice:1, agent: a, requester: h, attributes: {amount: 42.0}}
    want: {effect: allow, rule: small-payments, matched: [small-payments], reason_contains: small}
  - name: large
    request: {action: payments.send, resource: invoice:1, agent: a, requester: h, attributes: {amount: 4200.0}}
    want:
      effect: require_approval
      rule: large-payments
      approval: {capability: finance.approver, quorum: 1, timeout: 15m}
  - name: wrong on purpose
    request: {action: payments.send, resource: invoice:1, attributes: {amount: 4200.0}}
    want: {effect: allow, rule: small-payments, matched: [], approval: {quorum: 3}}
`

func TestFixtureCheck(t *testing.T) {
	fx, err := policy.ParseFixture("payments_test.yaml", []byte(fixtureYAML))
	if err != nil {
		t.Fatal(err)
	}
	if fx.Policies[0] != "payments.yaml" || fx.Holds["did:human:mallory"][0] != "finance.frozen" || len(fx.Cases) != 3 {
		t.Fatalf("fixture %+v", fx)
	}
	e := mustEngine(t, policy.StaticCapabilities(fx.Holds))
	results, err := fx.Check(context.Background(), e, mustCompile(t, e, paymentsYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(results[0].Failures)+len(results[1].Failures) != 0 {
		t.Fatalf("passing cases failed: %v %v", results[0].Failures, results[1].Failures)
	}
	got := strings.Join(results[2].Failures, "\n")
	for _, want := range []string{"effect is require_approval, want allow", `deciding rule is "large-payments"`, "matched [large-payments], want []", "approval quorum 1, want 3"} {
		if !strings.Contains(got, want) {
			t.Errorf("failures lack %q:\n%s", want, got)
		}
	}
}

func TestFixtureErrors(t *testing.T) {
	for name, c := range map[string]struct{ src, want string }{
		"unknown field":   {"policies: [p.yaml]\ncases: []\nextra: 1\n", "line 3: field extra not found"},
		"no policies":     {"cases:\n  - request: {action: a}\n    want: {effect: allow}\n", "no policies"},
		"no cases":        {"policies: [p.yaml]\n", "want 1 to"},
		"bad effect":      {"policies: [p.yaml]\ncases:\n  - request: {action: a}\n    want: {effect: permit}\n", `want.effect "permit"`},
		"no action":       {"policies: [p.yaml]\ncases:\n  - name: x\n    request: {}\n    want: {effect: deny}\n", "case x: request.action is required"},
		"bad timeout":     {"policies: [p.yaml]\ncases:\n  - request: {action: a}\n    want: {effect: deny, approval: {timeout: soon}}\n", `timeout "soon"`},
		"unknown in want": {"policies: [p.yaml]\ncases:\n  - request: {action: a}\n    want: {effect: deny, rules: [x]}\n", "field rules not found"},
		"two documents":   {"policies: [p.yaml]\n---\npolicies: [q.yaml]\n", "exactly one"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := policy.ParseFixture("f_test.yaml", []byte(c.src))
			if !errors.Is(err, errs.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestCombine(t *testing.T) {
	a, _ := policy.Parse("a.yaml", []byte("policy: a\nrules:\n  - id: x\n    actions: [a]\n    effect: allow\n"))
	b, _ := policy.Parse("b.yaml", []byte("policy: b\nrules:\n  - id: y\n    actions: [a]\n    effect: deny\n"))
	set, err := policy.Combine("set", a, b)
	if err != nil || len(set.Rules) != 2 {
		t.Fatalf("%+v %v", set, err)
	}
	e := mustEngine(t, nil)
	p, err := e.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Evaluate(context.Background(), p, policy.Input{Action: "a"}); d.Effect != policy.Deny || ruleIDs(d.Matched) != "x,y" {
		t.Fatalf("%+v", d)
	}
	if _, err := policy.Combine("set", a, a); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("duplicate ids: %v", err)
	}
}

// FuzzParseFixture: no input makes the fixture parser panic, and what it
// accepts is checkable.
func FuzzParseFixture(f *testing.F) {
	f.Add([]byte(fixtureYAML))
	f.Add([]byte(`{"policies": ["p.yaml"], "cases": [{"request": {"action": "a"}, "want": {"effect": "deny", "matched": null}}]}`))
	f.Add([]byte("policies: [p.yaml]\ncases:\n  - request: {action: a, now: 2026-01-01T00:00:00Z}\n    want: {effect: deny}\n"))
	f.Add([]byte("cases: &a [*a]\n"))
	e, err := policy.NewEngine(nil)
	if err != nil {
		f.Fatal(err)
	}
	doc, _ := policy.Parse("p.yaml", []byte(paymentsYAML))
	p, _ := e.Compile(doc)
	f.Fuzz(func(t *testing.T, data []byte) {
		fx, err := policy.ParseFixture("f_test.yaml", data)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if _, err := fx.Check(context.Background(), e, p); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
}

// FuzzCompileLimits: parsing and compiling documents with limits,
// escalation and exclusions never panics; errors are invalid-argument.
func FuzzCompileLimits(f *testing.F) {
	f.Add([]byte(budgetYAML))
	f.Add([]byte("policy: p\nrules:\n  - id: r\n    actions: [a]\n    effect: limit\n    limits: [{max: 1e12, window: 8784h, per: org}]\n"))
	f.Add([]byte("policy: p\nrules:\n  - id: r\n    actions: [a]\n    effect: require_approval\n    approval: {capability: c, timeout: 1m, escalation: [{team: t, timeout: 1s}], exclude: [x]}\n"))
	e, err := policy.NewEngine(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := policy.Parse("p.yaml", data)
		if err == nil {
			var p *policy.Policy
			if p, err = e.Compile(doc); err == nil {
				if _, err := e.Evaluate(context.Background(), p, policy.Input{Org: "o", Agent: "a", Requester: "h", Action: "a",
					Attributes: map[string]any{"amount": 1.0}}); err != nil {
					t.Fatalf("Evaluate: %v", err)
				}
				return
			}
		}
		if !errors.Is(err, errs.ErrInvalidArgument) {
			t.Fatalf("error of the wrong kind: %v", err)
		}
	})
}

func ExampleFixture_Check() {
	fx, _ := policy.ParseFixture("payments_test.yaml", []byte(`policies: [payments.yaml]
cases:
  - name: a large payment needs approval
    request: {action: payments.send, resource: invoice:9, attributes: {amount: 5000.0}}
    want: {effect: require_approval, rule: large-payments, approval: {quorum: 1}}
`))
	e, _ := policy.NewEngine(nil)
	doc, _ := policy.Parse("payments.yaml", []byte(`policy: payments
rules:
  - id: large-payments
    actions: ["payments.send"]
    condition: double(request.attributes.amount) > 100.0
    effect: require_approval
    approval: {capability: finance.approver, timeout: 15m}
`))
	p, _ := e.Compile(doc)
	results, _ := fx.Check(context.Background(), e, p)
	for _, r := range results {
		fmt.Println(r.Name, len(r.Failures) == 0)
	}
	// Output: a large payment needs approval true
}
