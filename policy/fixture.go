package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/humanos/human/errs"
	"gopkg.in/yaml.v3"
)

// RequestFile is a request as policy tools read it from YAML or JSON (the
// --request file of "human policy eval", and each case of a fixture):
//
//	org: acme
//	action: payments.send
//	resource: invoice:42
//	attributes: {amount: 250.0}
//	agent: did:agent:bot
//	requester: did:human:alice
//	scope: {actions: ["payments.*"], resources: ["invoice:*"], limits: {amount: 5000}}
//	now: 2026-03-01T12:00:00Z
type RequestFile struct {
	Org        string         `yaml:"org" json:"org,omitempty"`
	Action     string         `yaml:"action" json:"action"`
	Resource   string         `yaml:"resource" json:"resource,omitempty"`
	Attributes map[string]any `yaml:"attributes" json:"attributes,omitempty"`
	Agent      string         `yaml:"agent" json:"agent,omitempty"`
	Requester  string         `yaml:"requester" json:"requester,omitempty"`
	Scope      struct {
		Actions   []string           `yaml:"actions" json:"actions,omitempty"`
		Resources []string           `yaml:"resources" json:"resources,omitempty"`
		Limits    map[string]float64 `yaml:"limits" json:"limits,omitempty"`
	} `yaml:"scope" json:"scope"`
	Now time.Time `yaml:"now" json:"now,omitempty"`
}

// Input converts the request to an engine Input; org defaults to "default".
func (r *RequestFile) Input() Input {
	org := r.Org
	if org == "" {
		org = "default"
	}
	return Input{Org: org, Action: r.Action, Resource: r.Resource, Attributes: r.Attributes, Agent: r.Agent,
		Requester: r.Requester, Now: r.Now,
		AgentScope: Scope{Actions: r.Scope.Actions, Resources: r.Scope.Resources, Limits: r.Scope.Limits}}
}

// ParseRequest reads a RequestFile (YAML or JSON; unknown fields are
// errors, wrapping errs.ErrInvalidArgument with the line).
func ParseRequest(filename string, data []byte) (*RequestFile, error) {
	var r RequestFile
	if err := decodeKnown(data, &r); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "request %s: %v", filename, err)
	}
	if r.Action == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "request %s: action is required", filename)
	}
	return &r, nil
}

// Fixture is a policy test file, the input of "human policy test DIR":
//
//	policies: [payments.yaml]          # relative to the fixture; one policy set
//	holds:                             # answers of holds(subject, capability)
//	  did:human:bob: [finance.approver]
//	cases:
//	  - name: a small payment is allowed
//	    request: {action: payments.send, resource: invoice:1, attributes: {amount: 42.0}}
//	    want:
//	      effect: allow                # required: allow | deny | require_approval
//	      rule: small-payments         # the deciding rule ("" for the default deny)
//	      matched: [small-payments]    # every matched rule, in order
//	      approval: {capability: finance.approver, quorum: 1, timeout: 15m}
//	      reason_contains: small invoices
//
// Every field of want but effect is optional: what is given is checked.
type Fixture struct {
	Policies []string            `yaml:"policies"`
	Holds    map[string][]string `yaml:"holds"`
	Cases    []FixtureCase       `yaml:"cases"`
}

// FixtureCase is one request and what its decision must be.
type FixtureCase struct {
	Name    string      `yaml:"name"`
	Request RequestFile `yaml:"request"`
	Want    struct {
		Effect   Effect    `yaml:"effect"`
		Rule     *string   `yaml:"rule"`
		Matched  *[]string `yaml:"matched"`
		Approval *struct {
			Capability string   `yaml:"capability"`
			Quorum     int      `yaml:"quorum"`
			Timeout    string   `yaml:"timeout"`
			OnTimeout  string   `yaml:"on_timeout"`
			Escalation []string `yaml:"escalation"` // "capability:NAME" or "team:NAME", in order
			Exclude    []string `yaml:"exclude"`
		} `yaml:"approval"`
		ReasonContains string `yaml:"reason_contains"`
	} `yaml:"want"`
}

// maxFixtureCases bounds one fixture file.
const maxFixtureCases = 10_000

// ParseFixture reads a fixture (YAML or JSON; unknown fields are errors).
// Errors wrap errs.ErrInvalidArgument and name the file and line.
func ParseFixture(filename string, data []byte) (*Fixture, error) {
	if len(data) > maxSourceSize {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "fixture %s: %d bytes, more than the %d allowed", filename, len(data), maxSourceSize)
	}
	var f Fixture
	if err := decodeKnown(data, &f); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "fixture %s: %v", filename, err)
	}
	var probs []string
	if len(f.Policies) == 0 {
		probs = append(probs, "no policies")
	}
	if len(f.Cases) == 0 || len(f.Cases) > maxFixtureCases {
		probs = append(probs, fmt.Sprintf("want 1 to %d cases, got %d", maxFixtureCases, len(f.Cases)))
	}
	for i, c := range f.Cases {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		if c.Request.Action == "" {
			probs = append(probs, "case "+name+": request.action is required")
		}
		if c.Want.Effect != Allow && c.Want.Effect != Deny && c.Want.Effect != RequireApproval {
			probs = append(probs, fmt.Sprintf("case %s: want.effect %q must be allow, deny or require_approval", name, c.Want.Effect))
		}
		if a := c.Want.Approval; a != nil && a.Timeout != "" {
			if _, err := time.ParseDuration(a.Timeout); err != nil {
				probs = append(probs, fmt.Sprintf("case %s: want.approval.timeout %q is not a Go duration", name, a.Timeout))
			}
		}
	}
	if len(probs) > 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "fixture %s: %s", filename, strings.Join(probs, "; "))
	}
	return &f, nil
}

// decodeKnown decodes exactly one YAML document into v, rejecting unknown
// fields.
func decodeKnown(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("empty document")
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("want exactly one YAML document")
	}
	return nil
}

// StaticCapabilities answers holds() from a fixed table: subject to the
// capabilities it holds. It is for fixtures and the eval tool.
type StaticCapabilities map[string][]string

// Holds implements Capabilities.
func (s StaticCapabilities) Holds(_ context.Context, _, subject, capability string) (bool, error) {
	return slices.Contains(s[subject], capability), nil
}

// CaseResult is the outcome of one fixture case.
type CaseResult struct {
	Name     string
	Decision Decision
	// Failures lists what differed from the case's want; empty: passed.
	Failures []string
}

// Check evaluates every case of f against p with e and reports each
// result. The error is only for a cancelled context.
func (f *Fixture) Check(ctx context.Context, e *Engine, p *Policy) ([]CaseResult, error) {
	out := make([]CaseResult, 0, len(f.Cases))
	for i, c := range f.Cases {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		d, err := e.Evaluate(ctx, p, c.Request.Input())
		if err != nil {
			return out, err
		}
		r := CaseResult{Name: name, Decision: d}
		fail := func(format string, args ...any) { r.Failures = append(r.Failures, fmt.Sprintf(format, args...)) }
		w := c.Want
		if d.Effect != w.Effect {
			fail("effect is %s, want %s", d.Effect, w.Effect)
		}
		if w.Rule != nil && d.Rule != *w.Rule {
			fail("deciding rule is %q, want %q", d.Rule, *w.Rule)
		}
		if w.Matched != nil {
			var got []string
			for _, m := range d.Matched {
				got = append(got, m.Rule)
			}
			if !slices.Equal(got, *w.Matched) {
				fail("matched %v, want %v", got, *w.Matched)
			}
		}
		if a := w.Approval; a != nil {
			switch g := d.Approval; {
			case g == nil:
				fail("no approval required, want one")
			default:
				if a.Capability != "" && g.Capability != a.Capability {
					fail("approval capability %s, want %s", g.Capability, a.Capability)
				}
				if a.Quorum != 0 && g.Quorum != a.Quorum {
					fail("approval quorum %d, want %d", g.Quorum, a.Quorum)
				}
				if t, _ := time.ParseDuration(a.Timeout); a.Timeout != "" && g.Timeout != t {
					fail("approval timeout %s, want %s", FormatDuration(g.Timeout), a.Timeout)
				}
				if a.OnTimeout != "" && g.OnTimeout != a.OnTimeout {
					fail("approval on_timeout %s, want %s", g.OnTimeout, a.OnTimeout)
				}
				if a.Escalation != nil {
					var got []string
					for _, s := range g.Escalation {
						if s.Capability != "" {
							got = append(got, "capability:"+s.Capability)
						} else {
							got = append(got, "team:"+s.Team)
						}
					}
					if !slices.Equal(got, a.Escalation) {
						fail("escalation %v, want %v", got, a.Escalation)
					}
				}
				if a.Exclude != nil && !slices.Equal(g.Exclude, a.Exclude) {
					fail("exclude %v, want %v", g.Exclude, a.Exclude)
				}
			}
		}
		if w.ReasonContains != "" && !strings.Contains(d.Reason, w.ReasonContains) {
			fail("reason %q does not contain %q", d.Reason, w.ReasonContains)
		}
		out = append(out, r)
	}
	return out, nil
}

// Combine joins documents into one policy set named name, rules in the
// order given. Rule ids must be unique across the documents
// (errs.ErrInvalidArgument otherwise). The combined Source is the sources
// joined by a separator line, so its digest identifies the set.
func Combine(name string, docs ...*Document) (*Document, error) {
	if len(docs) == 1 {
		return docs[0], nil
	}
	out := &Document{Name: name}
	seen := map[string]string{}
	var srcs [][]byte
	var files []string
	for _, d := range docs {
		for _, r := range d.Rules {
			if f, dup := seen[r.ID]; dup {
				return nil, errs.Errorf(errs.ErrInvalidArgument, "policy set: rule id %s is in both %s and %s", r.ID, f, d.Filename)
			}
			seen[r.ID] = d.Filename
			out.Rules = append(out.Rules, r)
		}
		srcs = append(srcs, d.Source)
		files = append(files, d.Filename)
	}
	out.Source = bytes.Join(srcs, []byte("\n# ---\n"))
	out.Filename = strings.Join(files, "+")
	return out, nil
}
