package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"gopkg.in/yaml.v3"

	"github.com/humanos/human/errs"
)

// Capabilities answers the CEL function holds(subject, capability) while a
// policy is evaluated. The engine passes the evaluation's context and org.
// An error makes the decision fail closed (deny), never allow.
type Capabilities interface {
	Holds(ctx context.Context, org, subject, capability string) (bool, error)
}

// DefaultCostLimit is the CEL runtime cost one condition may spend before
// it is aborted (an aborted condition counts as an error, see [Decision]).
// Simple comparisons cost a handful of units; the limit only stops
// conditions that iterate over large inputs.
const DefaultCostLimit = 100_000

// maxConditionSize bounds a condition's source text.
const maxConditionSize = 4096

// Option configures an Engine.
type Option func(*Engine)

// WithCostLimit sets the CEL runtime cost limit per condition (default
// DefaultCostLimit).
func WithCostLimit(limit uint64) Option { return func(e *Engine) { e.costLimit = limit } }

// Engine compiles policy documents and evaluates requests against them. It
// is safe for concurrent use.
type Engine struct {
	env       *cel.Env
	caps      Capabilities
	costLimit uint64
}

// NewEngine returns an engine whose holds() function asks caps. caps may be
// nil: holds() then always returns false.
func NewEngine(caps Capabilities, opts ...Option) (*Engine, error) {
	e := &Engine{caps: caps, costLimit: DefaultCostLimit}
	for _, o := range opts {
		o(e)
	}
	if e.costLimit == 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy: cost limit must be positive")
	}
	env, err := cel.NewEnv(
		cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("agent", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("requester", cel.StringType),
		cel.Variable("org", cel.StringType),
		cel.Variable("now", cel.TimestampType),
		cel.Function("holds", cel.Overload("holds_string_string",
			[]*cel.Type{cel.StringType, cel.StringType}, cel.BoolType, cel.LateFunctionBinding())),
		cel.ParserExpressionSizeLimit(maxConditionSize),
	)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy: CEL environment: %w", err)
	}
	e.env = env
	return e, nil
}

// Policy is a compiled document. It is immutable and safe for concurrent
// Evaluate calls.
type Policy struct {
	// Document is a private copy of the compiled document.
	Document *Document
	// Version is the library version it was stored as; 0 when compiled
	// directly with Engine.Compile.
	Version int
	// Digest is the lowercase hex SHA-256 of Document.Source.
	Digest string

	rules []compiledRule
	index *actionIndex
}

type compiledRule struct {
	id        string
	effect    Effect
	actions   globs
	resources globs
	prg       cel.Program // nil: no condition, always true
	approval  *Approval
	limits    []compiledLimit
	reason    string // the reason given when this rule decides
}

type compiledLimit struct {
	Limit
	prg cel.Program // nil: each call costs 1
}

// Compile type-checks every condition of doc and returns the immutable,
// evaluable Policy. Errors wrap errs.ErrInvalidArgument and name the file,
// the rule and the line:column of the problem.
func (e *Engine) Compile(doc *Document) (*Policy, error) {
	if doc == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy: nil document")
	}
	doc = doc.clone()
	for i := range doc.Rules {
		defaultLimitNames(doc.Rules[i].Limits)
	}
	if probs := checkDocument(doc); len(probs) > 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "invalid policy: %s", strings.Join(probs, "; "))
	}
	p := &Policy{Document: doc, Digest: digestOf(doc.Source), rules: make([]compiledRule, len(doc.Rules))}
	var probs []string
	for i := range doc.Rules {
		r := &doc.Rules[i]
		cr := compiledRule{id: r.ID, effect: r.Effect, approval: r.Approval, reason: ruleReason(r)}
		for _, a := range r.Actions {
			cr.actions = append(cr.actions, compileGlob(a))
		}
		for _, a := range r.Resources {
			cr.resources = append(cr.resources, compileGlob(a))
		}
		if strings.TrimSpace(r.Condition) != "" {
			prg, msg := e.compileExpr(doc, r, r.Condition, "condition", r.pos.condition, r.pos.condStyle, cel.BoolType)
			if msg != "" {
				probs = append(probs, msg)
				continue
			}
			cr.prg = prg
		}
		for j, l := range r.Limits {
			cl := compiledLimit{Limit: l}
			if strings.TrimSpace(l.Amount) != "" {
				var pos position
				var style yaml.Style
				if j < maxLimits {
					pos, style = r.pos.limit[j], r.pos.limitStyle[j]
				}
				prg, msg := e.compileExpr(doc, r, l.Amount, "limit "+l.Name+": amount", pos, style,
					cel.DoubleType, cel.IntType, cel.UintType, cel.DynType)
				if msg != "" {
					probs = append(probs, msg)
					continue
				}
				cl.prg = prg
			}
			cr.limits = append(cr.limits, cl)
		}
		p.rules[i] = cr
	}
	if len(probs) > 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "invalid policy: %s", strings.Join(probs, "; "))
	}
	p.index = buildIndex(p.rules)
	return p, nil
}

// compileExpr type-checks one CEL expression of rule r (a condition or a
// limit's amount) and returns its program, or a problem message with the
// expression's position in the source. The result must have one of want.
func (e *Engine) compileExpr(doc *Document, r *Rule, text, what string, base position, style yaml.Style, want ...*cel.Type) (cel.Program, string) {
	if len(text) > maxConditionSize {
		return nil, problem(doc.Filename, base, r.ID,
			fmt.Sprintf("%s is %d bytes, more than the %d allowed", what, len(text), maxConditionSize))
	}
	ast, iss := e.env.Compile(text)
	if iss.Err() != nil {
		var msgs []string
		for _, ce := range iss.Errors() {
			pos := celPosition(doc.Source, base, style, ce.Location.Line(), ce.Location.Column())
			msgs = append(msgs, problem(doc.Filename, pos, r.ID, what+": "+ce.Message))
		}
		return nil, strings.Join(msgs, "; ")
	}
	t := ast.OutputType()
	ok := false
	for _, w := range want {
		ok = ok || t.IsExactType(w)
	}
	if !ok {
		if want[0] == cel.BoolType {
			return nil, problem(doc.Filename, base, r.ID,
				fmt.Sprintf("%s must be a bool expression, but has type %s (compare it, e.g. x == true)", what, t))
		}
		return nil, problem(doc.Filename, base, r.ID, fmt.Sprintf("%s must be a number, but has type %s", what, t))
	}
	// An expression whose worst case the checker can bound below the limit
	// (no iteration over request data) runs without a runtime cost
	// tracker, which would cost more than the expression; any other keeps
	// the runtime limit.
	opts := []cel.ProgramOption{cel.InterruptCheckFrequency(64), cel.EvalOptions(cel.OptOptimize)}
	if est, err := e.env.EstimateCost(ast, costEstimator{}); err != nil || est.Max > e.costLimit {
		opts = append(opts, cel.CostLimit(e.costLimit))
	}
	prg, err := e.env.Program(ast, opts...)
	if err != nil {
		return nil, problem(doc.Filename, base, r.ID, what+": "+err.Error())
	}
	return prg, ""
}

// costEstimator leaves every size and call to CEL's defaults: sizes of
// request data are unknown, so anything that iterates over them has an
// unbounded estimate.
type costEstimator struct{}

func (costEstimator) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

func (costEstimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// celPosition maps a CEL location (1-based line, 0-based column within the
// expression) to a line:column in the YAML source, given where the
// expression's scalar starts and its style.
func celPosition(src []byte, base position, style yaml.Style, line, col int) position {
	if base.line == 0 {
		return position{}
	}
	switch style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The text starts on the line after the indicator; CEL's columns
		// count from the block's indentation, that of its first line.
		return position{base.line + line, indentOf(src, base.line+1) + col + 1}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if line == 1 {
			return position{base.line, base.col + 1 + col}
		}
	default:
		if line == 1 {
			return position{base.line, base.col + col}
		}
	}
	return position{base.line + line - 1, indentOf(src, base.line+line-1) + col + 1}
}

// indentOf counts the leading spaces of the 1-based line l of src.
func indentOf(src []byte, l int) int {
	for i := 1; i < l; i++ {
		j := strings.IndexByte(string(src), '\n')
		if j < 0 {
			return 0
		}
		src = src[j+1:]
	}
	n := 0
	for n < len(src) && src[n] == ' ' {
		n++
	}
	return n
}

// digestOf is the lowercase hex SHA-256 of src.
func digestOf(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// ruleReason is the human-readable reason given when r decides.
func ruleReason(r *Rule) string {
	var s string
	switch r.Effect {
	case Allow:
		s = "rule " + r.ID + " allows the request"
	case Deny:
		s = "rule " + r.ID + " denies the request"
	case RequireApproval:
		a := r.Approval
		noun := "approval"
		if a.Quorum != 1 {
			noun = "approvals"
		}
		s = fmt.Sprintf("rule %s requires %d %s by a holder of %s within %s", r.ID, a.Quorum, noun,
			a.Capability, FormatDuration(a.Timeout))
		for _, st := range a.Escalation {
			if st.Capability != "" {
				s += ", then escalates to holders of " + st.Capability
			} else {
				s += ", then escalates to team " + st.Team
			}
			s += " for " + FormatDuration(st.Timeout)
		}
		if len(a.Escalation) == 0 && a.OnTimeout == OnTimeoutEscalate {
			s += ", then escalates"
		}
		if len(a.Exclude) > 0 {
			s += "; excluded from approving: " + strings.Join(a.Exclude, ", ")
		}
	case LimitOnly:
		s = "rule " + r.ID + " limits the request"
	}
	if len(r.Limits) > 0 {
		var ls []string
		for _, l := range r.Limits {
			ls = append(ls, describeLimit(l))
		}
		s += " (" + strings.Join(ls, "; ") + ")"
	}
	if r.Description != "" {
		s += ": " + r.Description
	}
	return s
}

// FormatDuration writes d the way policy authors do: "15m", "1h30m", "45s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Input is one request to evaluate.
type Input struct {
	// Org is the org whose policy applies; holds() asks about this org.
	Org string
	// Action is what the agent wants to do ("payments.send").
	Action string
	// Resource is what it wants to do it on ("invoice:42").
	Resource string
	// Attributes are the request's details (amounts, currencies...). The
	// engine reads them and never changes them.
	Attributes map[string]any
	// Agent is the agent's DID.
	Agent string
	// AgentScope is the scope of the agent's verified delegation.
	AgentScope Scope
	// Requester is the DID of the human or org at the root of the agent's
	// delegation chain.
	Requester string
	// Now is the evaluation time; zero means time.Now().
	Now time.Time
}

// Scope is an agent's delegated scope as conditions see it.
type Scope struct {
	Actions, Resources []string
	Limits             map[string]float64
}

// Decision is the outcome of one evaluation, with its explanation.
type Decision struct {
	// Effect is the outcome: Allow, Deny or RequireApproval.
	Effect Effect
	// Rule is the id of the deciding rule; "" for the default deny.
	Rule string
	// Reason says in one sentence why.
	Reason string
	// Matched lists, in document order, every rule whose action and
	// resource matched and whose condition held, plus every rule whose
	// condition failed to evaluate (with Err set).
	Matched []Match
	// Approval is set when Effect is RequireApproval: the strictest
	// approval among the matching rules. It is the caller's copy.
	Approval *Approval
	// PolicyVersion and PolicyDigest identify the policy that decided.
	PolicyVersion int
	PolicyDigest  string
	// Obligations are the limits the request must fit in before it may
	// proceed, set only when Effect is Allow or RequireApproval. [Budgets]
	// charges them atomically; a request that would exceed one is denied.
	Obligations []Obligation `json:",omitempty"`
}

// Obligation is one limit charged by a decision.
type Obligation struct {
	// Rule and Name identify the limit.
	Rule, Name string
	// Per and Subject say whose counter is charged: the agent's DID, the
	// requester's DID or the org.
	Per, Subject string
	// Amount is what this request costs; Max is the most a window allows.
	Amount, Max float64
	// Window is the length of the limit's windows.
	Window time.Duration
	// Total is the counter after this request was charged, set by
	// Budgets.Charge.
	Total float64
}

// Match is one rule's part in a decision.
type Match struct {
	// Rule is the rule id.
	Rule string
	// Effect is the rule's effect.
	Effect Effect
	// Reason is the reason the rule gives.
	Reason string
	// Err is set when the rule's condition failed to evaluate. Such a rule
	// counts as not matched, except a deny rule, which fails closed and
	// denies.
	Err string
}

// Evaluate decides in against p. Policy outcomes, including fail-closed
// denials, are Decisions; the error is only for a nil policy
// (errs.ErrInvalidArgument) or a cancelled context (errs.ErrUnavailable
// wrapping ctx.Err()).
//
// Combining: deny overrides everything; require_approval overrides allow;
// among matching require_approval rules the strictest wins (largest quorum,
// then shortest timeout, then document order); otherwise the first matching
// allow rule decides; no match is a default deny. A holds() look-up that
// fails denies the request. When the outcome is allow or require_approval,
// the limits of every matching rule become the Decision's Obligations (see
// [Budgets]); a limit whose amount cannot be computed denies (fail closed).
//
// Only the rules whose action patterns can match in.Action are looked at:
// the cost grows with those rules, not with the size of the policy.
func (e *Engine) Evaluate(ctx context.Context, p *Policy, in Input) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, errs.Errorf(errs.ErrUnavailable, "policy: evaluate: %w", err)
	}
	if p == nil {
		return Decision{}, errs.Errorf(errs.ErrInvalidArgument, "policy: evaluate: nil policy")
	}
	d := Decision{PolicyVersion: p.Version, PolicyDigest: p.Digest, Matched: make([]Match, 0, 4)}
	var vars *evalVars
	defer func() {
		if vars != nil {
			vars.release()
		}
	}()
	var (
		deny, appr   *compiledRule
		allow        *compiledRule
		limited      []*compiledRule
		failedClosed string // reason when a capability look-up failed
		failedRule   string
	)
	for _, i := range p.candidatesOf(in.Action) {
		r := &p.rules[i]
		if !r.actions.match(in.Action) || !r.resources.match(in.Resource) {
			continue
		}
		if r.prg != nil {
			if vars == nil {
				vars = newEvalVars(ctx, e, &in)
			}
			out, err := vars.eval(ctx, r.prg)
			if ctx.Err() != nil {
				return Decision{}, errs.Errorf(errs.ErrUnavailable, "policy: evaluate: %w", ctx.Err())
			}
			if vars.capErr != nil && failedClosed == "" {
				failedRule = r.id
				failedClosed = fmt.Sprintf("rule %s: capability look-up failed (%v); denied (fail closed)", r.id, vars.capErr)
			}
			if err != nil {
				m := Match{Rule: r.id, Effect: r.effect, Err: errorText(err)}
				switch r.effect {
				case Deny:
					m.Reason = "condition failed to evaluate; a deny rule fails closed: " + r.reason
					if deny == nil {
						deny = r
					}
				case LimitOnly:
					// A limit must not be dodged by omitting an attribute.
					m.Reason = "condition failed to evaluate; a limit rule fails closed and denies: " + r.reason
					if deny == nil {
						deny = r
					}
				default:
					m.Reason = "condition failed to evaluate; rule not applied"
				}
				d.Matched = append(d.Matched, m)
				continue
			}
			if out != types.True {
				continue
			}
		}
		d.Matched = append(d.Matched, Match{Rule: r.id, Effect: r.effect, Reason: r.reason})
		if len(r.limits) > 0 {
			limited = append(limited, r)
		}
		switch r.effect {
		case Deny:
			if deny == nil {
				deny = r
			}
		case RequireApproval:
			if appr == nil || stricter(r.approval, appr.approval) {
				appr = r
			}
		case Allow:
			if allow == nil {
				allow = r
			}
		}
	}
	switch {
	case failedClosed != "":
		d.Effect, d.Rule, d.Reason = Deny, failedRule, failedClosed
	case deny != nil:
		d.Effect, d.Rule, d.Reason = Deny, deny.id, deny.reason
		for _, m := range d.Matched {
			if m.Rule == deny.id && m.Err != "" {
				d.Reason = m.Reason + " (" + m.Err + ")"
			}
		}
	case appr != nil:
		d.Effect, d.Rule, d.Reason, d.Approval = RequireApproval, appr.id, appr.reason, appr.approval.clone()
	case allow != nil:
		d.Effect, d.Rule, d.Reason = Allow, allow.id, allow.reason
	default:
		d.Effect = Deny
		d.Reason = "no rule of policy " + p.Document.Name + " matches action " + strconv.Quote(in.Action) +
			" on resource " + strconv.Quote(in.Resource) + "; denied by default"
	}
	if d.Effect != Deny && len(limited) > 0 {
		if vars == nil {
			vars = newEvalVars(ctx, e, &in)
		}
		if err := e.obligations(ctx, vars, limited, &d); err != nil {
			return Decision{}, err
		}
	}
	return d, nil
}

// obligations computes the charges of the limits of the matched rules. A
// limit that cannot be computed turns the decision into a deny.
func (e *Engine) obligations(ctx context.Context, vars *evalVars, limited []*compiledRule, d *Decision) error {
	in := vars.in
	for _, r := range limited {
		for _, l := range r.limits {
			o := Obligation{Rule: r.id, Name: l.Name, Per: l.Per, Max: l.Max, Window: l.Window, Amount: 1}
			switch l.Per {
			case PerAgent:
				o.Subject = in.Agent
			case PerRequester:
				o.Subject = in.Requester
			case PerOrg:
				o.Subject = in.Org
			}
			var fail string
			if o.Subject == "" {
				fail = "the request names no " + l.Per + " to charge"
			} else if l.prg != nil {
				out, err := vars.eval(ctx, l.prg)
				if ctx.Err() != nil {
					return errs.Errorf(errs.ErrUnavailable, "policy: evaluate: %w", ctx.Err())
				}
				if err != nil {
					fail = "amount failed to evaluate (" + errorText(err) + ")"
				} else if x, ok := number(out); !ok {
					fail = fmt.Sprintf("amount is %s, not a number", out.Type().TypeName())
				} else if !(x >= 0 && x <= maxLimitValue) {
					fail = fmt.Sprintf("amount %v is negative or too large", x)
				} else {
					o.Amount = x
				}
			}
			if fail != "" {
				d.Effect, d.Rule, d.Approval = Deny, r.id, nil
				d.Reason = fmt.Sprintf("rule %s: limit %s: %s; denied (fail closed)", r.id, l.Name, fail)
				d.Obligations = nil
				return nil
			}
			d.Obligations = append(d.Obligations, o)
		}
	}
	return nil
}

// number converts a CEL numeric value to float64.
func number(v ref.Val) (float64, bool) {
	switch x := v.(type) {
	case types.Double:
		return float64(x), true
	case types.Int:
		return float64(x), true
	case types.Uint:
		return float64(x), true
	}
	return 0, false
}

// describeLimit writes a limit the way a reviewer reads it.
func describeLimit(l Limit) string {
	unit := "calls"
	if l.Amount != "" {
		unit = "of " + l.Amount
	}
	per := l.Per
	if per == "" {
		per = PerAgent
	}
	return fmt.Sprintf("limit %s: at most %s %s per %s per %s", l.Name, strconv.FormatFloat(l.Max, 'f', -1, 64), unit, per,
		FormatDuration(l.Window))
}

// clone deep-copies a so a decision's caller cannot change the policy.
func (a *Approval) clone() *Approval {
	c := *a
	c.Escalation = append([]EscalationStep(nil), a.Escalation...)
	c.Exclude = append([]string(nil), a.Exclude...)
	return &c
}

// stricter reports whether a demands more than b: a larger quorum, or the
// same quorum with less time.
func stricter(a, b *Approval) bool {
	if a.Quorum != b.Quorum {
		return a.Quorum > b.Quorum
	}
	return a.Timeout < b.Timeout
}

// evalVars is the CEL activation of one evaluation: it supplies the
// variables (built lazily, once) and the late-bound holds() bound to the
// evaluation's context. It is used by one goroutine.
type evalVars struct {
	ctx    context.Context
	engine *Engine
	in     Input
	// request and agent are plain Go maps: cel-go qualifies map[string]any
	// directly, which is several times cheaper than wrapping them in CEL
	// map values first.
	request, agent map[string]any
	scope          map[string]any
	reqOK, agentOK bool
	now            ref.Val
	holdsFn        functions.LateBoundOp
	capErr         error
	asked          []heldAnswer // holds() answers memoised for this evaluation
}

type heldAnswer struct {
	subject, capability string
	held                bool
}

// evalVarsPool recycles activations: an evaluation allocates nothing for
// its variables once the pool is warm.
var evalVarsPool = sync.Pool{New: func() any {
	v := &evalVars{request: make(map[string]any, 3), agent: make(map[string]any, 2), scope: make(map[string]any, 3)}
	v.holdsFn = v.holds
	return v
}}

func newEvalVars(ctx context.Context, e *Engine, in *Input) *evalVars {
	v := evalVarsPool.Get().(*evalVars)
	v.ctx, v.engine, v.in = ctx, e, *in
	return v
}

// release returns v to the pool, dropping every reference it holds.
func (v *evalVars) release() {
	clear(v.request)
	clear(v.agent)
	clear(v.scope)
	v.reqOK, v.agentOK = false, false
	v.ctx, v.engine, v.in, v.now, v.capErr = nil, nil, Input{}, nil, nil
	clear(v.asked)
	v.asked = v.asked[:0]
	evalVarsPool.Put(v)
}

func (v *evalVars) eval(ctx context.Context, prg cel.Program) (ref.Val, error) {
	var (
		out ref.Val
		err error
	)
	if ctx.Done() == nil {
		out, _, err = prg.Eval(v)
	} else {
		out, _, err = prg.ContextEval(ctx, v)
	}
	return out, err
}

// ResolveName implements the CEL activation.
func (v *evalVars) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		if !v.reqOK {
			attrs := v.in.Attributes
			if attrs == nil {
				attrs = map[string]any{}
			}
			v.request["action"], v.request["resource"], v.request["attributes"] = v.in.Action, v.in.Resource, attrs
			v.reqOK = true
		}
		return v.request, true
	case "agent":
		if !v.agentOK {
			s := v.in.AgentScope
			limits := s.Limits
			if limits == nil {
				limits = map[string]float64{}
			}
			v.scope["actions"], v.scope["resources"], v.scope["limits"] = nonNil(s.Actions), nonNil(s.Resources), limits
			v.agent["did"], v.agent["scope"] = v.in.Agent, v.scope
			v.agentOK = true
		}
		return v.agent, true
	case "requester":
		return types.String(v.in.Requester), true
	case "org":
		return types.String(v.in.Org), true
	case "now":
		if v.now == nil {
			t := v.in.Now
			if t.IsZero() {
				t = time.Now()
			}
			v.now = types.Timestamp{Time: t}
		}
		return v.now, true
	}
	return nil, false
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Parent implements the CEL activation.
func (v *evalVars) Parent() cel.Activation { return nil }

// ResolveFunction supplies the late-bound holds().
func (v *evalVars) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	if name == "holds" {
		return v.holdsFn, true
	}
	return nil, false
}

func (v *evalVars) holds(_ string, args ...ref.Val) ref.Val {
	if len(args) != 2 {
		return types.NewErr("holds: want 2 arguments, got %d", len(args))
	}
	subject, ok1 := args[0].(types.String)
	capability, ok2 := args[1].(types.String)
	if !ok1 || !ok2 {
		return types.NewErr("holds: want (string, string)")
	}
	if v.engine.caps == nil {
		return types.False
	}
	for _, a := range v.asked {
		if a.subject == string(subject) && a.capability == string(capability) {
			return types.Bool(a.held)
		}
	}
	held, err := v.engine.caps.Holds(v.ctx, v.in.Org, string(subject), string(capability))
	if err != nil {
		if v.capErr == nil {
			v.capErr = fmt.Errorf("holds(%q, %q): %w", string(subject), string(capability), err)
		}
		return types.NewErr("holds(%q, %q): %v", string(subject), string(capability), err)
	}
	v.asked = append(v.asked, heldAnswer{string(subject), string(capability), held})
	return types.Bool(held)
}

// errorText shortens CEL's error text for a decision.
func errorText(err error) string {
	var s string
	if err != nil {
		s = err.Error()
	}
	if len(s) > 300 {
		s = s[:300]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return s
}
