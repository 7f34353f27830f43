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
	// LimitOnly neither allows nor denies: a matching limit rule adds its
	// limits (budgets, rate limits) to a request that other rules allow or
	// send for approval. A Decision's Effect is never LimitOnly.
	LimitOnly Effect = "limit"
)

// Valid reports whether e is one of the four effects.
func (e Effect) Valid() bool {
	return e == Allow || e == Deny || e == RequireApproval || e == LimitOnly
}

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
	// Limits are budgets and rate limits charged when the rule matches a
	// request whose final effect is allow or require_approval; required
	// with effect limit, forbidden with deny.
	Limits []Limit

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
	// Escalation is the chain an unanswered approval moves along when
	// OnTimeout is OnTimeoutEscalate: each step hands the request to the
	// holders of a capability or the members of a team, with its own
	// deadline. Giving steps makes OnTimeout default to escalate.
	Escalation []EscalationStep
	// Exclude lists DIDs and teams whose members may not approve
	// (separation of duty), at any step.
	Exclude []string
}

// EscalationStep is one level of an approval's escalation chain: exactly
// one of Capability and Team, and how long that level has.
type EscalationStep struct {
	// Capability: holders of it may approve at this step.
	Capability string
	// Team: members of it may approve at this step.
	Team string
	// Timeout is how long this step has (> 0).
	Timeout time.Duration
}

// The values of Limit.Per: whose counter a limit charges.
const (
	// PerAgent keeps one counter per agent DID (the default).
	PerAgent = "agent"
	// PerRequester keeps one counter per delegating human (or org).
	PerRequester = "requester"
	// PerOrg keeps one counter for the whole org.
	PerOrg = "org"
)

// Limit is a budget or rate limit: at most Max units per Window for each
// subject named by Per. A call costs Amount units (a CEL expression over the
// same variables as conditions) or, without Amount, one unit: a rate limit.
// Windows are fixed and aligned to the Unix epoch in UTC (a 24h window is a
// UTC day).
type Limit struct {
	// Name names the counter within the rule; default "calls" without
	// Amount and "amount" with it.
	Name string
	// Per is PerAgent (default), PerRequester or PerOrg.
	Per string
	// Amount is a CEL expression giving the call's cost (a number); empty
	// means 1.
	Amount string
	// Max is the most units a subject may spend per window (>= 0).
	Max float64
	// Window is the length of a window (> 0).
	Window time.Duration
}

// rulePos records source positions of a parsed rule, for error messages.
type rulePos struct {
	rule, condition position
	condStyle       yaml.Style
	field           map[string]position
	limit           [maxLimits]position // each limit's amount
	limitStyle      [maxLimits]yaml.Style
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
	f := p.fields(n, label, "rule", "id", "description", "actions", "resources", "condition", "effect", "approval", "limits")
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
			p.addf(v, label, "unknown effect %q (want allow, deny, require_approval or limit)", s)
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
	lv := f["limits"]
	switch {
	case lv == nil && r.Effect == LimitOnly:
		p.addf(n, label, "effect limit needs a limits list")
	case lv != nil && r.Effect == Deny:
		p.addf(lv, label, "limits are not allowed with effect deny (a denied request spends nothing)")
	case lv != nil:
		r.Limits = p.limits(lv, label, &r)
	}
	return r
}

func (p *parser) limits(n *yaml.Node, rule string, r *Rule) []Limit {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.addf(n, rule, "limits must be a non-empty list")
		return nil
	}
	var out []Limit
	for i, ln := range n.Content {
		l := Limit{Per: PerAgent}
		f := p.fields(ln, rule, "limit", "name", "per", "amount", "max", "window")
		if f == nil {
			continue
		}
		if v := f["name"]; v != nil {
			l.Name, _ = p.str(v, rule, "limit.name")
		}
		if v := f["per"]; v != nil {
			l.Per, _ = p.str(v, rule, "limit.per")
		}
		if v := f["amount"]; v != nil {
			l.Amount, _ = p.str(v, rule, "limit.amount")
			if i < maxLimits {
				r.pos.limit[i] = position{v.Line, v.Column}
				r.pos.limitStyle[i] = v.Style
			}
		}
		if v := f["max"]; v == nil {
			p.addf(ln, rule, "limit: missing field \"max\"")
		} else if x, err := strconv.ParseFloat(v.Value, 64); v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") || err != nil {
			p.addf(v, rule, "limit.max must be a number, got %q", v.Value)
		} else {
			l.Max = x
		}
		if v := f["window"]; v == nil {
			p.addf(ln, rule, "limit: missing field \"window\" (a Go duration such as 1m or 24h)")
		} else if s, ok := p.str(v, rule, "limit.window"); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				p.addf(v, rule, "limit.window %q must be a positive Go duration such as 1m or 24h", s)
			} else {
				l.Window = d
			}
		}
		out = append(out, l)
	}
	defaultLimitNames(out)
	return out
}

// defaultLimitNames fills empty names: "calls" for rate limits, "amount"
// for budgets.
func defaultLimitNames(ls []Limit) {
	for i := range ls {
		if ls[i].Name == "" {
			if ls[i].Amount == "" {
				ls[i].Name = "calls"
			} else {
				ls[i].Name = "amount"
			}
		}
		if ls[i].Per == "" {
			ls[i].Per = PerAgent
		}
	}
}

// maxLimits bounds the limits of one rule; maxLimitValue bounds Max and a
// call's amount, so counters (kept in millionths) cannot overflow.
const (
	maxLimits     = 8
	maxLimitValue = 1e12
	maxWindow     = 366 * 24 * time.Hour
)

func (p *parser) approval(n *yaml.Node, rule string) *Approval {
	a := &Approval{Quorum: 1, OnTimeout: OnTimeoutDeny}
	f := p.fields(n, rule, "approval", "capability", "quorum", "timeout", "on_timeout", "allow_delegator", "escalation", "exclude")
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
	if v := f["escalation"]; v != nil {
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			p.addf(v, rule, "approval.escalation must be a non-empty list of steps")
		} else {
			for _, sn := range v.Content {
				a.Escalation = append(a.Escalation, p.escalationStep(sn, rule))
			}
			if f["on_timeout"] == nil {
				a.OnTimeout = OnTimeoutEscalate
			}
		}
	}
	if v := f["exclude"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			p.addf(v, rule, "approval.exclude must be a list of DIDs or teams")
		} else {
			for _, c := range v.Content {
				if s, ok := p.str(c, rule, "approval.exclude entry"); ok {
					a.Exclude = append(a.Exclude, s)
				}
			}
		}
	}
	return a
}

func (p *parser) escalationStep(n *yaml.Node, rule string) EscalationStep {
	var st EscalationStep
	f := p.fields(n, rule, "escalation step", "capability", "team", "timeout")
	if f == nil {
		return st
	}
	if v := f["capability"]; v != nil {
		st.Capability, _ = p.str(v, rule, "escalation.capability")
	}
	if v := f["team"]; v != nil {
		st.Team, _ = p.str(v, rule, "escalation.team")
	}
	if (f["capability"] == nil) == (f["team"] == nil) {
		p.addf(n, rule, "escalation step needs exactly one of capability and team")
	}
	if v := f["timeout"]; v == nil {
		p.addf(n, rule, "escalation step: missing field \"timeout\" (a Go duration such as 30m)")
	} else if s, ok := p.str(v, rule, "escalation.timeout"); ok {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			p.addf(v, rule, "escalation.timeout %q must be a positive Go duration such as 30m", s)
		} else {
			st.Timeout = d
		}
	}
	return st
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
			add(r, "effect", "unknown effect %q (want allow, deny, require_approval or limit)", r.Effect)
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
			if len(a.Escalation) > 0 && a.OnTimeout != OnTimeoutEscalate {
				add(r, "approval", "approval.escalation is given but on_timeout is %q; use on_timeout: escalate", a.OnTimeout)
			}
			if len(a.Escalation) > maxEscalation {
				add(r, "approval", "approval.escalation has %d steps, more than the %d allowed", len(a.Escalation), maxEscalation)
			}
			for i, st := range a.Escalation {
				if (st.Capability == "") == (st.Team == "") {
					add(r, "approval", "escalation step %d needs exactly one of capability and team", i+1)
				}
				if strings.TrimSpace(st.Capability+st.Team) == "" && st.Capability+st.Team != "" {
					add(r, "approval", "escalation step %d: empty capability or team", i+1)
				}
				if st.Timeout <= 0 {
					add(r, "approval", "escalation step %d: timeout must be positive, got %v", i+1, st.Timeout)
				}
			}
			for _, x := range a.Exclude {
				if strings.TrimSpace(x) == "" || strings.ContainsFunc(x, isControl) {
					add(r, "approval", "approval.exclude entry %q must name a DID or team", x)
				}
			}
		}
		switch {
		case r.Effect == LimitOnly && len(r.Limits) == 0:
			add(r, "effect", "effect limit needs a limits list")
		case r.Effect == Deny && len(r.Limits) > 0:
			add(r, "limits", "limits are not allowed with effect deny (a denied request spends nothing)")
		case len(r.Limits) > maxLimits:
			add(r, "limits", "%d limits, more than the %d allowed per rule", len(r.Limits), maxLimits)
		}
		names := map[string]bool{}
		for _, l := range r.Limits {
			if l.Name == "" || !ruleIDPattern.MatchString(l.Name) {
				add(r, "limits", "limit name %q must be 1-128 letters, digits, '_', '.', ':' or '-'", l.Name)
			}
			if names[l.Name] {
				add(r, "limits", "limit name %q used twice in the rule", l.Name)
			}
			names[l.Name] = true
			if l.Per != PerAgent && l.Per != PerRequester && l.Per != PerOrg {
				add(r, "limits", "limit %s: per %q must be agent, requester or org", l.Name, l.Per)
			}
			if !(l.Max >= 0 && l.Max <= maxLimitValue) {
				add(r, "limits", "limit %s: max must be between 0 and %g, got %v", l.Name, float64(maxLimitValue), l.Max)
			}
			if l.Window <= 0 || l.Window > maxWindow {
				add(r, "limits", "limit %s: window must be positive and at most %s, got %v", l.Name, FormatDuration(maxWindow), l.Window)
			}
		}
	}
	return out
}

// maxEscalation bounds an escalation chain.
const maxEscalation = 16

func isControl(c rune) bool { return c < 0x20 || c == 0x7f }

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
			a.Escalation = append([]EscalationStep(nil), a.Escalation...)
			a.Exclude = append([]string(nil), a.Exclude...)
			r.Approval = &a
		}
		r.Limits = append([]Limit(nil), r.Limits...)
		c.Rules[i] = r
	}
	return &c
}
