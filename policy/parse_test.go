package policy_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

const paymentsYAML = `policy: payments
rules:
  - id: small-payments
    description: Agents may pay small invoices on their own.
    actions: ["payments.send"]
    resources: ["invoice:*"]
    condition: request.attributes.amount <= 100.0
    effect: allow
  - id: large-payments
    description: Large payments need finance.
    actions: ["payments.*"]
    condition: double(request.attributes.amount) > 100.0
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 1
      timeout: 15m
      on_timeout: deny
      allow_delegator: false
  - id: frozen
    actions: ["payments.wire"]
    condition: holds(requester, "finance.frozen")
    effect: deny
`

func TestParseValid(t *testing.T) {
	doc, err := policy.Parse("payments.yaml", []byte(paymentsYAML))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Name != "payments" || len(doc.Rules) != 3 || string(doc.Source) != paymentsYAML || doc.Filename != "payments.yaml" {
		t.Fatalf("doc = %+v", doc)
	}
	r := doc.Rules[1]
	want := policy.Approval{Capability: "finance.approver", Quorum: 1, Timeout: 15 * time.Minute, OnTimeout: "deny"}
	if r.ID != "large-payments" || r.Effect != policy.RequireApproval || r.Approval == nil || !reflect.DeepEqual(*r.Approval, want) {
		t.Fatalf("rule 1 = %+v approval %+v", r, r.Approval)
	}
	if got := doc.Rules[0].Resources; len(got) != 1 || got[0] != "invoice:*" {
		t.Fatalf("resources = %v", got)
	}
}

func TestParseJSON(t *testing.T) {
	src := `{"policy": "p", "rules": [{"id": "a", "actions": ["x.*"], "effect": "require_approval",
	  "approval": {"capability": "c", "timeout": "1h", "quorum": 2}}]}`
	doc, err := policy.Parse("p.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a := doc.Rules[0].Approval
	if a.Quorum != 2 || a.Timeout != time.Hour || a.OnTimeout != policy.OnTimeoutDeny {
		t.Fatalf("approval = %+v (on_timeout must default to deny)", a)
	}
}

// TestLoadErrors checks every load error: it wraps ErrInvalidArgument and
// names the file, the rule and the line:column of the problem.
func TestLoadErrors(t *testing.T) {
	head := "policy: p\nrules:\n"
	cases := []struct {
		name, src string
		want      []string // substrings of the message
	}{
		{"unknown top-level field", "policy: p\nrulez: []\n", []string{"f.yaml:2:1", `unknown field "rulez"`}},
		{"missing name", "rules: []\n", []string{"f.yaml:1:1", `missing field "policy"`}},
		{"rules not a list", "policy: p\nrules: 3\n", []string{"f.yaml:2:8", "rules must be a list"}},
		{"duplicate rule id", head + "  - id: a\n    actions: [x]\n    effect: allow\n  - id: a\n    actions: [y]\n    effect: deny\n",
			[]string{"f.yaml:6:5", "rule a", "duplicate rule id", "first defined at 3:5"}},
		{"unknown effect", head + "  - id: r1\n    actions: [x]\n    effect: permit\n",
			[]string{"f.yaml:5:13", "rule r1", `unknown effect "permit"`}},
		{"missing effect", head + "  - id: r1\n    actions: [x]\n", []string{"f.yaml:3:5", "rule r1", `missing field "effect"`}},
		{"unknown rule field", head + "  - id: r1\n    actions: [x]\n    effekt: allow\n    effect: allow\n",
			[]string{"f.yaml:5:5", "rule r1", `unknown field "effekt"`}},
		{"missing approval", head + "  - id: r1\n    actions: [x]\n    effect: require_approval\n",
			[]string{"f.yaml:3:5", "rule r1", "needs an approval block"}},
		{"approval on allow", head + "  - id: r1\n    actions: [x]\n    effect: allow\n    approval: {capability: c, timeout: 1m}\n",
			[]string{"f.yaml:6:15", "rule r1", "only allowed with effect require_approval"}},
		{"quorum zero", head + "  - id: r1\n    actions: [x]\n    effect: require_approval\n    approval:\n      capability: c\n      quorum: 0\n      timeout: 1m\n",
			[]string{"f.yaml:8:15", "rule r1", "quorum must be between 1"}},
		{"quorum not a number", head + "  - id: r1\n    actions: [x]\n    effect: require_approval\n    approval: {capability: c, quorum: two, timeout: 1m}\n",
			[]string{"f.yaml:6:39", "rule r1", "quorum must be an integer"}},
		{"bad duration", head + "  - id: r1\n    actions: [x]\n    effect: require_approval\n    approval:\n      capability: c\n      timeout: 15 minutes\n",
			[]string{"f.yaml:8:16", "rule r1", `approval.timeout "15 minutes"`}},
		{"negative duration", head + "  - id: r1\n    actions: [x]\n    effect: require_approval\n    approval:\n      capability: c\n      timeout: -5m\n",
			[]string{"f.yaml:8:16", "rule r1", "positive Go duration"}},
		{"missing timeout", head + "  - id: r1\n    actions: [x]\n    effect: require_approval\n    approval:\n      capability: c\n",
			[]string{"f.yaml:7:7", "rule r1", `missing field "timeout"`}},
		{"unknown on_timeout", head + "  - id: r1\n    actions: [x]\n    effect: require_approval\n    approval:\n      capability: c\n      timeout: 1m\n      on_timeout: ignore\n",
			[]string{"f.yaml:9:19", "rule r1", `on_timeout "ignore"`}},
		{"missing capability", head + "  - id: r1\n    actions: [x]\n    effect: require_approval\n    approval:\n      timeout: 1m\n",
			[]string{"f.yaml:7:7", "rule r1", `missing field "capability"`}},
		{"bad glob in actions", head + "  - id: r1\n    actions: [\"pay*ments\"]\n    effect: allow\n",
			[]string{"f.yaml:4:15", "rule r1", `bad glob "pay*ments"`}},
		{"bad glob in resources", head + "  - id: r1\n    actions: [x]\n    resources: [\"**\"]\n    effect: allow\n",
			[]string{"f.yaml:5:17", "rule r1", `bad glob "**"`}},
		{"empty pattern", head + "  - id: r1\n    actions: [\"\"]\n    effect: allow\n", []string{"f.yaml:4:15", "rule r1", "empty pattern"}},
		{"empty actions", head + "  - id: r1\n    actions: []\n    effect: allow\n", []string{"f.yaml:4:14", "rule r1", "actions is empty"}},
		{"missing actions", head + "  - id: r1\n    effect: allow\n", []string{"f.yaml:3:5", "rule r1", `missing field "actions"`}},
		{"actions not a list", head + "  - id: r1\n    actions: x\n    effect: allow\n", []string{"f.yaml:4:14", "rule r1", "list of strings"}},
		{"missing id", head + "  - actions: [x]\n    effect: allow\n", []string{"f.yaml:3:5", "rule #1", `missing field "id"`}},
		{"bad id", head + "  - id: \"has space\"\n    actions: [x]\n    effect: allow\n", []string{"f.yaml:3:9", "has space"}},
		{"field twice", head + "  - id: r1\n    actions: [x]\n    effect: allow\n    effect: deny\n", []string{"f.yaml:6:5", "rule r1", `"effect" given twice`}},
		{"allow_delegator not bool", head + "  - id: r1\n    actions: [x]\n    effect: require_approval\n    approval: {capability: c, timeout: 1m, allow_delegator: maybe}\n",
			[]string{"f.yaml:6:61", "rule r1", "allow_delegator must be true or false"}},
		{"alias", "policy: p\nx: &a [1]\nrules: *a\n", []string{"f.yaml:2:1", `unknown field "x"`}},
		{"alias in rule", head + "  - id: r1\n    actions: &acts [x]\n    effect: allow\n  - id: r2\n    actions: *acts\n    effect: allow\n",
			[]string{"f.yaml:7:14", "rule r2", "aliases are not allowed"}},
		{"syntax error", "policy: p\nrules: [\n", []string{"f.yaml", "yaml"}},
		{"two documents", "policy: p\nrules: []\n---\npolicy: q\nrules: []\n", []string{"f.yaml", "exactly one YAML document"}},
		{"empty", "", []string{"f.yaml", "empty document"}},
		{"not a mapping", "- a\n- b\n", []string{"f.yaml:1:1", "document must be a mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := policy.Parse("f.yaml", []byte(c.src))
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("Parse = %+v, %v; want ErrInvalidArgument", doc, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestCompileErrors checks CEL errors: position is the condition's line
// plus CEL's column.
func TestCompileErrors(t *testing.T) {
	e, err := policy.NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	head := "policy: p\nrules:\n  - id: r1\n    actions: [x]\n    effect: allow\n"
	cases := []struct {
		name, cond string
		want       []string
	}{
		{"unknown variable", "    condition: request.action == user\n", []string{"f.yaml:6:34", "rule r1", "undeclared reference to 'user'"}},
		{"syntax", "    condition: request.action ==\n", []string{"f.yaml:6:", "rule r1", "condition:"}},
		{"not bool", "    condition: request.attributes.amount\n", []string{"f.yaml:6:16", "rule r1", "must be a bool expression"}},
		{"int result", "    condition: 1 + 2\n", []string{"f.yaml:6:16", "rule r1", "must be a bool"}},
		{"wrong holds args", "    condition: holds(requester)\n", []string{"f.yaml:6:21", "rule r1", "holds"}},
		{"double quoted", "    condition: \"request.action == nope\"\n", []string{"f.yaml:6:35", "rule r1", "nope"}},
		{"block literal", "    condition: |\n      request.action == \"x\" &&\n        missing\n", []string{"f.yaml:8:9", "rule r1", "missing"}},
		{"too long", "    condition: " + strings.Repeat("true && ", 600) + "true\n", []string{"f.yaml:6:16", "rule r1", "condition is"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := policy.Parse("f.yaml", []byte(head+c.cond))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = e.Compile(doc)
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("Compile err = %v, want ErrInvalidArgument", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestCompileChecksBuiltDocuments: a Document assembled in code gets the
// same structural checks as a parsed one.
func TestCompileChecksBuiltDocuments(t *testing.T) {
	e, _ := policy.NewEngine(nil)
	docs := map[string]*policy.Document{
		"no approval":  {Name: "p", Rules: []policy.Rule{{ID: "a", Actions: []string{"x"}, Effect: policy.RequireApproval}}},
		"bad effect":   {Name: "p", Rules: []policy.Rule{{ID: "a", Actions: []string{"x"}, Effect: "maybe"}}},
		"duplicate id": {Name: "p", Rules: []policy.Rule{{ID: "a", Actions: []string{"x"}, Effect: policy.Allow}, {ID: "a", Actions: []string{"y"}, Effect: policy.Deny}}},
		"bad glob":     {Name: "p", Rules: []policy.Rule{{ID: "a", Actions: []string{"*x"}, Effect: policy.Allow}}},
		"zero quorum": {Name: "p", Rules: []policy.Rule{{ID: "a", Actions: []string{"x"}, Effect: policy.RequireApproval,
			Approval: &policy.Approval{Capability: "c", Timeout: time.Minute, OnTimeout: "deny"}}}},
		"no name": {Rules: []policy.Rule{{ID: "a", Actions: []string{"x"}, Effect: policy.Allow}}},
	}
	for name, d := range docs {
		if _, err := e.Compile(d); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("%s: Compile err = %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := e.Compile(nil); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Errorf("nil document: err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		paymentsYAML,
		"policy: p\nrules: []\n",
		`{"policy": "p", "rules": [{"id": "a", "actions": ["*"], "effect": "allow"}]}`,
		"policy: p\nrules:\n  - id: a\n    actions: [x]\n    effect: require_approval\n    approval: {capability: c, timeout: 1m, quorum: 0}\n",
		"policy: p\nrules: [\n",
		"policy: p\nx: &a [1]\nrules: *a\n",
		"- a\n- b\n",
		"",
		"---\n---\n",
		"policy: !!binary aGVsbG8=\nrules: ~\n",
		"policy: p\nrules:\n  - id: a\n    actions: [\"*\"]\n    condition: |\n      holds(requester, \"x\")\n    effect: deny\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	e, err := policy.NewEngine(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := policy.Parse("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("Parse error does not wrap ErrInvalidArgument: %v", err)
			}
			return
		}
		if doc.Name == "" {
			t.Fatalf("accepted a document without a name")
		}
		for _, r := range doc.Rules {
			if (r.Effect == policy.RequireApproval) != (r.Approval != nil) {
				t.Fatalf("rule %s: effect %s with approval %v", r.ID, r.Effect, r.Approval)
			}
		}
		if _, err := e.Compile(doc); err != nil && !errors.Is(err, errs.ErrInvalidArgument) {
			t.Fatalf("Compile error does not wrap ErrInvalidArgument: %v", err)
		}
	})
}

func ExampleParse() {
	src := `policy: payments
rules:
  - id: large-payments
    actions: ["payments.*"]
    effect: require_approval
    approval: {capability: finance.approver, quorum: 2, timeout: 15m}
  - id: oops
    actions: ["payments.send"]
    effect: permit
`
	doc, err := policy.Parse("payments.yaml", []byte(src))
	fmt.Println(doc == nil, errors.Is(err, errs.ErrInvalidArgument))
	fmt.Println(err)
	// Output:
	// true true
	// invalid argument: invalid policy: payments.yaml:9:13: rule oops: unknown effect "permit" (want allow, deny, require_approval or limit)
}
