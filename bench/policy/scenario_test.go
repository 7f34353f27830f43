// Package policy compares HUMAN's policy engine with OPA (Rego, prepared
// query) and cedar-go on one scenario: the same policies, the same
// requests, the same decisions.
//
// The scenario is the quickstart's payments policy: small invoices are
// allowed, large ones need a finance approver, deleting a ledger is denied.
// "rules=1000" adds 997 rules on other actions, to show how each engine's
// cost grows with the size of the policy set.
package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	cedar "github.com/cedar-policy/cedar-go"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/humanos/human/policy"
)

// request is one scenario request, with the effect every engine must reach.
type request struct {
	name     string
	action   string
	resource string
	amount   int64 // cents: Cedar has no floating point
	want     string
}

var requests = []request{
	{"allow", "payments.send", "invoice:1", 4200, "allow"},
	{"require_approval", "payments.send", "invoice:2", 120000, "require_approval"},
}

// sizes are the policy-set sizes benchmarked: the scenario alone, and the
// scenario among filler rules.
var sizes = []int{3, 1000}

func humanPolicy(n int) string {
	var b strings.Builder
	b.WriteString(`policy: payments
rules:
  - id: small-payments
    actions: ["payments.send"]
    resources: ["invoice:*"]
    condition: request.attributes.amount <= 10000
    effect: allow
  - id: large-payments
    actions: ["payments.send"]
    resources: ["invoice:*"]
    condition: request.attributes.amount > 10000
    effect: require_approval
    approval: {capability: finance.approver, quorum: 1, timeout: 15m}
  - id: no-deletes
    actions: ["ledger.delete"]
    effect: deny
`)
	for i := 3; i < n; i++ {
		fmt.Fprintf(&b, "  - id: filler-%d\n    actions: [\"svc%d.op\"]\n    condition: request.attributes.amount <= %d\n    effect: allow\n", i, i, i)
	}
	return b.String()
}

func regoPolicy(n int) string {
	var b strings.Builder
	b.WriteString(`package payments

deny if input.action == "ledger.delete"

approval if {
	input.action == "payments.send"
	startswith(input.resource, "invoice:")
	input.amount > 10000
}

allow if {
	input.action == "payments.send"
	startswith(input.resource, "invoice:")
	input.amount <= 10000
}
`)
	for i := 3; i < n; i++ {
		fmt.Fprintf(&b, "\nallow if {\n\tinput.action == \"svc%d.op\"\n\tinput.amount <= %d\n}\n", i, i)
	}
	b.WriteString(`
effect := "deny" if deny
else := "require_approval" if approval
else := "allow" if allow
else := "deny"
`)
	return b.String()
}

// cedarPolicy has no approval effect: require_approval is a permit policy
// whose id the caller maps (Cedar's diagnostics name the permits that
// decided), which is how Cedar users model it today.
func cedarPolicy(n int) string {
	var b strings.Builder
	b.WriteString(`@id("small-payments")
permit (principal, action == Action::"payments.send", resource is Invoice)
when { context.amount <= 10000 };
@id("large-payments")
permit (principal, action == Action::"payments.send", resource is Invoice)
when { context.amount > 10000 };
@id("no-deletes")
forbid (principal, action == Action::"ledger.delete", resource);
`)
	for i := 3; i < n; i++ {
		fmt.Fprintf(&b, "@id(\"filler-%d\")\npermit (principal, action == Action::\"svc%d.op\", resource) when { context.amount <= %d };\n", i, i, i)
	}
	return b.String()
}

type engines struct {
	human    *policy.Engine
	humanPol *policy.Policy
	opa      rego.PreparedEvalQuery
	cedar    *cedar.PolicySet
}

func newEngines(tb testing.TB, n int) *engines {
	tb.Helper()
	e, err := policy.NewEngine(nil)
	if err != nil {
		tb.Fatal(err)
	}
	doc, err := policy.Parse("payments.yaml", []byte(humanPolicy(n)))
	if err != nil {
		tb.Fatal(err)
	}
	hp, err := e.Compile(doc)
	if err != nil {
		tb.Fatal(err)
	}
	pq, err := rego.New(rego.Query("data.payments.effect"), rego.Module("payments.rego", regoPolicy(n))).PrepareForEval(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	list, err := cedar.NewPolicyListFromBytes("payments.cedar", []byte(cedarPolicy(n)))
	if err != nil {
		tb.Fatal(err)
	}
	ps := cedar.NewPolicySet()
	for _, p := range list {
		ps.Add(cedar.PolicyID(p.Annotations()["id"]), p)
	}
	return &engines{human: e, humanPol: hp, opa: pq, cedar: ps}
}

func (g *engines) decideHuman(ctx context.Context, r request) (string, error) {
	d, err := g.human.Evaluate(ctx, g.humanPol, policy.Input{Org: "acme", Agent: "did:agent:bot", Action: r.action,
		Resource: r.resource, Attributes: map[string]any{"amount": r.amount}})
	return string(d.Effect), err
}

func (g *engines) decideOPA(ctx context.Context, r request) (string, error) {
	rs, err := g.opa.Eval(ctx, rego.EvalInput(map[string]any{"action": r.action, "resource": r.resource, "amount": r.amount}))
	if err != nil || len(rs) != 1 {
		return "", fmt.Errorf("opa: %v %v", rs, err)
	}
	return rs[0].Expressions[0].Value.(string), nil
}

func (g *engines) decideCedar(r request) string {
	typ, id, _ := strings.Cut(r.resource, ":")
	req := cedar.Request{
		Principal: cedar.NewEntityUID("Agent", "bot"),
		Action:    cedar.NewEntityUID("Action", cedar.String(r.action)),
		Resource:  cedar.NewEntityUID(cedar.EntityType(strings.ToUpper(typ[:1])+typ[1:]), cedar.String(id)),
		Context:   cedar.NewRecord(cedar.RecordMap{"amount": cedar.Long(r.amount)}),
	}
	ok, diag := cedar.Authorize(g.cedar, cedar.EntityMap{}, req)
	if !ok {
		return "deny"
	}
	for _, reason := range diag.Reasons {
		if reason.PolicyID == "large-payments" {
			return "require_approval"
		}
	}
	return "allow"
}

// TestSameDecisions checks that the three engines agree on every request,
// so the benchmarks compare like with like.
func TestSameDecisions(t *testing.T) {
	ctx := context.Background()
	all := append(requests, request{"deny", "ledger.delete", "ledger:1", 0, "deny"},
		request{"filler", "svc7.op", "x:1", 5, "allow"}, request{"unknown", "nope", "x:1", 5, "deny"})
	for _, n := range sizes {
		g := newEngines(t, n)
		for _, r := range all {
			if r.name == "filler" && n < 8 {
				r.want = "deny"
			}
			h, err := g.decideHuman(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			o, err := g.decideOPA(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			c := g.decideCedar(r)
			if h != r.want || o != r.want || c != r.want {
				t.Errorf("rules=%d %s: human %s, opa %s, cedar %s; want %s", n, r.name, h, o, c, r.want)
			}
		}
	}
}

// BenchmarkDecision evaluates each scenario request with each engine. Run
//
//	go test -run XXX -bench Decision -benchmem -count 6 ./policy/ | tee new.txt
//
// and compare engines with benchstat's -col /engine.
func BenchmarkDecision(b *testing.B) {
	ctx := context.Background()
	for _, n := range sizes {
		g := newEngines(b, n)
		for _, r := range requests {
			b.Run(fmt.Sprintf("rules=%d/req=%s/engine=human", n, r.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if got, err := g.decideHuman(ctx, r); err != nil || got != r.want {
						b.Fatal(got, err)
					}
				}
			})
			b.Run(fmt.Sprintf("rules=%d/req=%s/engine=opa", n, r.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if got, err := g.decideOPA(ctx, r); err != nil || got != r.want {
						b.Fatal(got, err)
					}
				}
			})
			b.Run(fmt.Sprintf("rules=%d/req=%s/engine=cedar", n, r.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if got := g.decideCedar(r); got != r.want {
						b.Fatal(got)
					}
				}
			})
		}
	}
}
