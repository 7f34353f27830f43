package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/humanos/human/errs"
	"gopkg.in/yaml.v3"
)

// Effect is what a matching rule decides.
type Effect string

// The effects a rule may have.
const (
	// Allow lets the request proceed.
	Allow Effect = "allow"
	// Deny refuses the request; it overrides every other effect.
	Deny Effect = "deny"
	// RequireApproval lets the request proceed only once humans holding a
	// capability approve it; it overrides Allow.
	RequireApproval Effect = "require_approval"
)

// Valid reports whether e is one of the three effects.
func (e Effect) Valid() bool { return e == Allow || e == Deny || e == RequireApproval }

// The values of Approval.OnTimeout.
const (
	// OnTimeoutDeny resolves an unanswered approval as denied.
	OnTimeoutDeny = "deny"
	// OnTimeoutEscalate hands an unanswered approval to the next level.
	OnTimeoutEscalate = "escalate"
)

// Document is a parsed policy document: a name and an ordered list of rules.
type Document struct {
	// Name is the document's "policy" field.
	Name string
	// Rules are the rules in document order.
	Rules []Rule
	// Source is the exact bytes that were parsed; Policy.Digest hashes them.
	Source []byte
	// Filename names the source in error messages.
	Filename string
}

// Rule is one rule of a policy document.
type Rule struct {
	// ID names the rule; unique within the document.
	ID string
	// Description says why the rule exists; it ends the decision's reason.
	Description string
	// Actions are glob patterns (see [MatchPattern]); at least one.
	Actions []string
	// Resources are glob patterns; empty means any resource.
	Resources []string
	// Condition is an optional CEL expression that must type-check to bool.
	Condition string
	// Effect is what the rule decides when it matches.
	Effect Effect
	// Approval is required when Effect is RequireApproval and forbidden
	// otherwise.
	Approval *Approval

	pos rulePos // where the rule came from, when parsed
}

// Approval says who must approve a request and how fast.
type Approval struct {
	// Capability is what each approver must hold.
	Capability string
	// Quorum is how many distinct approvers are needed (>= 1; default 1).
	Quorum int
	// Timeout is how long approvers have (> 0).
	Timeout time.Duration
	// OnTimeout is OnTimeoutDeny (default) or OnTimeoutEscalate.
	OnTimeout string
	// AllowDelegator lets the human who delegated to the agent approve.
	AllowDelegator bool
}

// rulePos records source positions of a parsed rule, for error messages.
type rulePos struct {
	rule, condition position
	condStyle       yaml.Style
	field           map[string]position
}

type position struct{ line, col int }

func (p position) String() string {
	if p.line == 0 {
		return ""
	}
	return strconv.Itoa(p.line) + ":" + strconv.Itoa(p.col)
}

// maxSourceSize bounds a policy document; larger inputs are rejected before
// parsing so a hostile file cannot make the loader allocate without bound.
const maxSourceSize = 1 << 20

// ruleIDPattern is what a rule id may look like: it appears in decisions,
// attestations and log lines, so it stays short and printable.
var ruleIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// Parse reads a policy document (YAML, of which JSON is a subset) and checks
// its structure: known fields only, required fields present, effects,
// approvals, durations and glob patterns valid, rule ids unique. CEL
// conditions are type-checked by [Engine.Compile], not here.
//
// Every problem is reported, each as "file:line:col: rule <id>: what is
// wrong"; the error wraps errs.ErrInvalidArgument.
func Parse(filename string, data []byte) (*Document, error) {
	doc := &Document{Filename: filename, Source: bytes.Clone(data)}
	p := &parser{file: filename}
	if len(data) > maxSourceSize {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy %s: document is %d bytes, more than the %d allowed",
			filename, len(data), maxSourceSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "policy %s: empty document", filename)
		}
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy %s: %v", filename, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy %s: want exactly one YAML document", filename)
	}
	p.document(&root, doc)
	if len(p.problems) == 0 {
		p.problems = append(p.problems, checkDocument(doc)...)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return doc, nil
}

// parser walks a yaml.Node tree, collecting problems with their positions.
type parser struct {
	file     string
	problems []string
}

const maxProblems = 20

func (p *parser) addf(n *yaml.Node, rule, format string, args ...any) {
	if len(p.problems) >= maxProblems {
		return
	}
	var pos position
	if n != nil {
		pos = position{n.Line, n.Column}
	}
	p.problems = append(p.problems, problem(p.file, pos, rule, fmt.Sprintf(format, args...)))
}

func problem(file string, pos position, rule, msg string) string {
	var b strings.Builder
	b.WriteString(file)
	if pos.line > 0 {
		b.WriteString(":" + pos.String())
	}
	b.WriteString(": ")
	if rule != "" {
		b.WriteString("rule " + rule + ": ")
	}
	b.WriteString(msg)
	return b.String()
}

func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	return errs.Errorf(errs.ErrInvalidArgument, "invalid policy: %s", strings.Join(p.problems, "; "))
}

// fields checks that n is a mapping with only the allowed keys, no
// duplicates and no aliases, and returns the value node of each key.
func (p *parser) fields(n *yaml.Node, rule, what string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.addf(n, rule, "%s must be a mapping", what)
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.addf(k, rule, "%s: keys must be plain names", what)
			continue
		}
		known := false
		for _, a := range allowed {
			known = known || a == k.Value
		}
		switch {
		case !known:
			p.addf(k, rule, "%s: unknown field %q (known: %s)", what, k.Value, strings.Join(allowed, ", "))
		case out[k.Value] != nil:
			p.addf(k, rule, "%s: field %q given twice", what, k.Value)
		case v.Kind == yaml.AliasNode:
			p.addf(v, rule, "%s: field %q: YAML aliases are not allowed in policies", what, k.Value)
		default:
			out[k.Value] = v
		}
	}
	return out
}

// str returns the scalar text of n; null and non-scalars are problems.
func (p *parser) str(n *yaml.Node, rule, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.addf(n, rule, "%s must be a string", field)
		return "", false
	}
	return n.Value, true
}

func (p *parser) strList(n *yaml.Node, rule, field string) []string {
	if n.Kind != yaml.SequenceNode {
		p.addf(n, rule, "%s must be a list of strings", field)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if s, ok := p.str(c, rule, field+" entry"); ok {
			if err := checkPattern(s); err != nil {
				p.addf(c, rule, "%s: %v", field, err)
			}
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) document(root *yaml.Node, doc *Document) {
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) != 1 {
			p.addf(n, "", "empty document")
			return
		}
		n = n.Content[0]
	}
	f := p.fields(n, "", "document", "policy", "rules")
	if f == nil {
		return
	}
	if v := f["policy"]; v == nil {
		p.addf(n, "", "missing field \"policy\" (the policy's name)")
	} else if s, ok := p.str(v, "", "policy"); ok {
		if strings.TrimSpace(s) == "" {
			p.addf(v, "", "policy name is empty")
		}
		doc.Name = s
	}
	rules := f["rules"]
	if rules == nil {
		p.addf(n, "", "missing field \"rules\"")
		return
	}
	if rules.Kind != yaml.SequenceNode {
		p.addf(rules, "", "rules must be a list")
		return
	}
	seen := make(map[string]position, len(rules.Content))
	for i, rn := range rules.Content {
		r := p.rule(rn, i)
		if r.ID != "" {
			if prev, dup := seen[r.ID]; dup {
				p.addf(rn, r.ID, "duplicate rule id (first defined at %s)", prev)
			} else {
				seen[r.ID] = r.pos.rule
			}
		}
		doc.Rules = append(doc.Rules, r)
	}
}

func (p *parser) rule(n *yaml.Node, i int) Rule {
	r := Rule{pos: rulePos{rule: position{n.Line, n.Column}, field: map[string]position{}}}
	label := "#" + strconv.Itoa(i+1)
	if n.Kind == yaml.MappingNode {
		// Find the id first so every later problem can name the rule.
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "id" && n.Content[j+1].Kind == yaml.ScalarNode && n.Content[j+1].Value != "" {
				label = n.Content[j+1].Value
			}
		}
	}
	f := p.fields(n, label, "rule", "id", "description", "actions", "resources", "condition", "effect", "approval")
	if f == nil {
		return r
	}
	for k, v := range f {
		r.pos.field[k] = position{v.Line, v.Column}
	}
	if v := f["id"]; v == nil {
		p.addf(n, label, "missing field \"id\"")
	} else if s, ok := p.str(v, label, "id"); ok {
		if !ruleIDPattern.MatchString(s) {
			p.addf(v, label, "id %q must be 1-128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit", s)
		}
		r.ID = s
	}
	if v := f["description"]; v != nil {
		r.Description, _ = p.str(v, label, "description")
	}
	if v := f["actions"]; v == nil {
		p.addf(n, label, "missing field \"actions\"")
	} else {
		r.Actions = p.strList(v, label, "actions")
		if len(r.Actions) == 0 && v.Kind == yaml.SequenceNode {
			p.addf(v, label, "actions is empty; use [\"*\"] to match every action")
		}
	}
	if v := f["resources"]; v != nil {
		r.Resources = p.strList(v, label, "resources")
	}
	if v := f["condition"]; v != nil {
		if s, ok := p.str(v, label, "condition"); ok {
			r.Condition = s
			r.pos.condition = position{v.Line, v.Column}
			r.pos.condStyle = v.Style
		}
	}
	if v := f["effect"]; v == nil {
		p.addf(n, label, "missing field \"effect\" (allow, deny or require_approval)")
	} else if s, ok := p.str(v, label, "effect"); ok {
		r.Effect = Effect(s)
		if !r.Effect.Valid() {
			p.addf(v, label, "unknown effect %q (want allow, deny or require_approval)", s)
		}
	}
	av := f["approval"]
	switch {
	case av == nil && r.Effect == RequireApproval:
		p.addf(n, label, "effect require_approval needs an approval block")
	case av != nil && r.Effect.Valid() && r.Effect != RequireApproval:
		p.addf(av, label, "approval is only allowed with effect require_approval, not %s", r.Effect)
	case av != nil:
		r.Approval = p.approval(av, label)
	}
	return r
}

func (p *parser) approval(n *yaml.Node, rule string) *Approval {
	a := &Approval{Quorum: 1, OnTimeout: OnTimeoutDeny}
	f := p.fields(n, rule, "approval", "capability", "quorum", "timeout", "on_timeout", "allow_delegator")
	if f == nil {
		return a
	}
	if v := f["capability"]; v == nil {
		p.addf(n, rule, "approval: missing field \"capability\"")
	} else if s, ok := p.str(v, rule, "approval.capability"); ok {
		if strings.TrimSpace(s) == "" {
			p.addf(v, rule, "approval.capability is empty")
		}
		a.Capability = s
	}
	if v := f["quorum"]; v != nil {
		q, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil {
			p.addf(v, rule, "approval.quorum must be an integer, got %q", v.Value)
		} else if q < 1 || q > maxQuorum {
			p.addf(v, rule, "approval.quorum must be between 1 and %d, got %d", maxQuorum, q)
		} else {
			a.Quorum = q
		}
	}
	if v := f["timeout"]; v == nil {
		p.addf(n, rule, "approval: missing field \"timeout\" (a Go duration such as 15m)")
	} else if s, ok := p.str(v, rule, "approval.timeout"); ok {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			p.addf(v, rule, "approval.timeout %q must be a positive Go duration such as 15m or 2h", s)
		} else {
			a.Timeout = d
		}
	}
	if v := f["on_timeout"]; v != nil {
		if s, ok := p.str(v, rule, "approval.on_timeout"); ok {
			if s != OnTimeoutDeny && s != OnTimeoutEscalate {
				p.addf(v, rule, "approval.on_timeout %q must be deny or escalate", s)
			}
			a.OnTimeout = s
		}
	}
	if v := f["allow_delegator"]; v != nil {
		b, err := strconv.ParseBool(v.Value)
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || err != nil {
			p.addf(v, rule, "approval.allow_delegator must be true or false, got %q", v.Value)
		}
		a.AllowDelegator = b
	}
	return a
}

// maxQuorum bounds a quorum; no org routes a single request to more humans.
const maxQuorum = 100

// checkDocument validates a Document's structure independently of how it
// was built (parsed or assembled in code). Positions are used when known.
func checkDocument(doc *Document) []string {
	var out []string
	add := func(r *Rule, field, format string, args ...any) {
		if len(out) >= maxProblems {
			return
		}
		pos := r.pos.rule
		if fp, ok := r.pos.field[field]; ok {
			pos = fp
		}
		out = append(out, problem(doc.Filename, pos, r.ID, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(doc.Name) == "" {
		out = append(out, problem(doc.Filename, position{}, "", "policy name is empty"))
	}
	seen := make(map[string]bool, len(doc.Rules))
	for i := range doc.Rules {
		r := &doc.Rules[i]
		if !ruleIDPattern.MatchString(r.ID) {
			add(r, "id", "invalid rule id %q", r.ID)
		}
		if seen[r.ID] {
			add(r, "id", "duplicate rule id")
		}
		seen[r.ID] = true
		if len(r.Actions) == 0 {
			add(r, "actions", "no actions; use [\"*\"] to match every action")
		}
		for _, a := range r.Actions {
			if err := checkPattern(a); err != nil {
				add(r, "actions", "actions: %v", err)
			}
		}
		for _, a := range r.Resources {
			if err := checkPattern(a); err != nil {
				add(r, "resources", "resources: %v", err)
			}
		}
		if !r.Effect.Valid() {
			add(r, "effect", "unknown effect %q (want allow, deny or require_approval)", r.Effect)
		}
		switch {
		case r.Effect == RequireApproval && r.Approval == nil:
			add(r, "effect", "effect require_approval needs an approval block")
		case r.Effect != RequireApproval && r.Approval != nil:
			add(r, "approval", "approval is only allowed with effect require_approval")
		case r.Approval != nil:
			a := r.Approval
			if strings.TrimSpace(a.Capability) == "" {
				add(r, "approval", "approval.capability is empty")
			}
			if a.Quorum < 1 || a.Quorum > maxQuorum {
				add(r, "approval", "approval.quorum must be between 1 and %d, got %d", maxQuorum, a.Quorum)
			}
			if a.Timeout <= 0 {
				add(r, "approval", "approval.timeout must be positive, got %v", a.Timeout)
			}
			if a.OnTimeout != OnTimeoutDeny && a.OnTimeout != OnTimeoutEscalate {
				add(r, "approval", "approval.on_timeout %q must be deny or escalate", a.OnTimeout)
			}
		}
	}
	return out
}

// clone deep-copies d so a compiled Policy cannot change under its user.
func (d *Document) clone() *Document {
	c := *d
	c.Source = bytes.Clone(d.Source)
	c.Rules = make([]Rule, len(d.Rules))
	for i, r := range d.Rules {
		r.Actions = append([]string(nil), r.Actions...)
		r.Resources = append([]string(nil), r.Resources...)
		if r.Approval != nil {
			a := *r.Approval
			r.Approval = &a
		}
		c.Rules[i] = r
	}
	return &c
}
