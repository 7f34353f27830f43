package passport

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/humanos/human/errs"
)

// Scope is what a delegation lets its agent do: which actions, on which
// resources, within which numeric limits.
//
// Patterns in Actions and Resources are exact strings, "*" (everything), or
// a prefix followed by a single trailing "*": "invoice.*" matches
// "invoice.pay" but not "invoice", "invoice:*" matches "invoice:42". A "*"
// anywhere else is invalid. An empty Resources list places no restriction on
// resources (it is the same as ["*"]); Actions may never be empty.
//
// Limits name numeric request attributes and their maximum: a request is
// within a limit L only if its attribute L is a number no greater than the
// limit. A request that lacks the attribute is outside the scope (fail
// closed).
type Scope struct {
	Actions   []string           `json:"actions"`
	Resources []string           `json:"resources,omitempty"`
	Limits    map[string]float64 `json:"limits,omitempty"`
}

// Validate reports whether the scope is well formed: at least one action,
// every pattern valid, every limit named and a number. Errors wrap
// errs.ErrInvalidArgument.
func (s Scope) Validate() error {
	if len(s.Actions) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "scope.actions: empty; name at least one action pattern (\"*\" for all)")
	}
	for i, p := range s.Actions {
		if err := validPattern(p); err != nil {
			return errs.Errorf(errs.ErrInvalidArgument, "scope.actions[%d]: %v", i, err)
		}
	}
	for i, p := range s.Resources {
		if err := validPattern(p); err != nil {
			return errs.Errorf(errs.ErrInvalidArgument, "scope.resources[%d]: %v", i, err)
		}
	}
	for name, v := range s.Limits {
		if name == "" {
			return errs.Errorf(errs.ErrInvalidArgument, "scope.limits: empty limit name")
		}
		if math.IsNaN(v) {
			return errs.Errorf(errs.ErrInvalidArgument, "scope.limits[%q]: NaN", name)
		}
	}
	return nil
}

func validPattern(p string) error {
	if p == "" {
		return fmt.Errorf("empty pattern")
	}
	if i := strings.IndexByte(p, '*'); i >= 0 && i != len(p)-1 {
		return fmt.Errorf("pattern %q: \"*\" may only end a pattern", p)
	}
	return nil
}

// match reports whether pattern matches s.
func match(pattern, s string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, prefix)
	}
	return pattern == s
}

// covers reports whether every string matched by child is matched by parent.
func covers(parent, child string) bool {
	if prefix, ok := strings.CutSuffix(parent, "*"); ok {
		// Every string the child matches starts with the child's literal
		// part; prefix holds no "*", so this is the whole test.
		return strings.HasPrefix(child, prefix)
	}
	return !strings.HasSuffix(child, "*") && parent == child
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

func coveredBy(parents []string, child string) bool {
	for _, p := range parents {
		if covers(p, child) {
			return true
		}
	}
	return false
}

// Permits reports whether the scope allows action on resource with the
// request attributes attrs. It returns nil when allowed, and otherwise an
// error wrapping errs.ErrPermissionDenied naming the action, resource or
// limit that is outside the scope.
func (s Scope) Permits(action, resource string, attrs map[string]any) error {
	if !matchAny(s.Actions, action) {
		return errs.Errorf(errs.ErrPermissionDenied, "action %q is outside the delegated actions %q", action, s.Actions)
	}
	if len(s.Resources) > 0 && !matchAny(s.Resources, resource) {
		return errs.Errorf(errs.ErrPermissionDenied, "resource %q is outside the delegated resources %q", resource, s.Resources)
	}
	for _, name := range sortedKeys(s.Limits) {
		limit := s.Limits[name]
		raw, ok := attrs[name]
		if !ok {
			return errs.Errorf(errs.ErrPermissionDenied, "limit %q: the request has no attribute %q (a delegated limit needs it)", name, name)
		}
		v, ok := number(raw)
		if !ok {
			return errs.Errorf(errs.ErrPermissionDenied, "limit %q: attribute %q is %T, not a number", name, name, raw)
		}
		if math.IsNaN(v) || v > limit {
			return errs.Errorf(errs.ErrPermissionDenied, "limit %q: %v exceeds the delegated maximum %v", name, v, limit)
		}
	}
	return nil
}

// Within reports whether s is no wider than parent: every action and
// resource pattern of s is covered by a pattern of parent, and every limit of
// parent is present in s with a value no greater. s may add limits. The
// error wraps errs.ErrPermissionDenied and names the first widening found.
func (s Scope) Within(parent Scope) error {
	for _, a := range s.Actions {
		if !coveredBy(parent.Actions, a) {
			return errs.Errorf(errs.ErrPermissionDenied, "scope widens: action pattern %q is not within the parent's actions %q", a, parent.Actions)
		}
	}
	if len(parent.Resources) > 0 {
		if len(s.Resources) == 0 {
			return errs.Errorf(errs.ErrPermissionDenied, "scope widens: no resource restriction, but the parent allows only %q", parent.Resources)
		}
		for _, r := range s.Resources {
			if !coveredBy(parent.Resources, r) {
				return errs.Errorf(errs.ErrPermissionDenied, "scope widens: resource pattern %q is not within the parent's resources %q", r, parent.Resources)
			}
		}
	}
	for name, pv := range parent.Limits {
		if cv, ok := s.Limits[name]; !ok || math.IsNaN(cv) || cv > pv {
			return s.limitWidening(parent)
		}
	}
	return nil
}

// limitWidening names the first (by name) limit of parent that s widens.
func (s Scope) limitWidening(parent Scope) error {
	for _, name := range sortedKeys(parent.Limits) {
		pv := parent.Limits[name]
		cv, ok := s.Limits[name]
		if !ok {
			return errs.Errorf(errs.ErrPermissionDenied, "scope widens: limit %q (at most %v in the parent) is missing", name, pv)
		}
		if math.IsNaN(cv) || cv > pv {
			return errs.Errorf(errs.ErrPermissionDenied, "scope widens: limit %q is %v, above the parent's %v", name, cv, pv)
		}
	}
	return nil
}

// clone returns a deep copy, so a cached scope is never shared mutably.
func (s Scope) clone() Scope {
	c := Scope{Actions: slices.Clone(s.Actions), Resources: slices.Clone(s.Resources)}
	if s.Limits != nil {
		c.Limits = make(map[string]float64, len(s.Limits))
		for k, v := range s.Limits {
			c.Limits[k] = v
		}
	}
	return c
}

func sortedKeys(m map[string]float64) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// number converts the numeric types a request attribute may carry.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
