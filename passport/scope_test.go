package passport_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

func TestScopePermits(t *testing.T) {
	s := passport.Scope{
		Actions:   []string{"invoice.*", "email.send"},
		Resources: []string{"invoice:*", "mailbox:ops"},
		Limits:    map[string]float64{"amount": 500},
	}
	ok := map[string]any{"amount": 100}
	tests := []struct {
		name     string
		scope    passport.Scope
		action   string
		resource string
		attrs    map[string]any
		allow    bool
	}{
		{"prefix action, prefix resource", s, "invoice.pay", "invoice:42", ok, true},
		{"exact action", s, "email.send", "mailbox:ops", ok, true},
		{"at the limit", s, "invoice.pay", "invoice:1", map[string]any{"amount": 500.0}, true},
		{"int8 attribute", s, "invoice.pay", "invoice:1", map[string]any{"amount": int8(5)}, true},
		{"json.Number attribute", s, "invoice.pay", "invoice:1", map[string]any{"amount": json.Number("499.5")}, true},
		{"over the limit", s, "invoice.pay", "invoice:1", map[string]any{"amount": 500.01}, false},
		{"missing limited attribute", s, "invoice.pay", "invoice:1", nil, false},
		{"string attribute", s, "invoice.pay", "invoice:1", map[string]any{"amount": "1"}, false},
		{"NaN attribute", s, "invoice.pay", "invoice:1", map[string]any{"amount": math.NaN()}, false},
		{"prefix needs the dot", s, "invoice", "invoice:1", ok, false},
		{"other action", s, "email.read", "mailbox:ops", ok, false},
		{"exact resource only", s, "email.send", "mailbox:ceo", ok, false},
		{"action wildcard", passport.Scope{Actions: []string{"*"}}, "anything", "", nil, true},
		{"no resource list means any resource", passport.Scope{Actions: []string{"a"}}, "a", "whatever", nil, true},
		{"empty scope permits nothing", passport.Scope{}, "a", "", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.scope.Permits(tc.action, tc.resource, tc.attrs)
			if tc.allow && err != nil {
				t.Fatalf("denied: %v", err)
			}
			if !tc.allow && !errors.Is(err, errs.ErrPermissionDenied) {
				t.Fatalf("got %v, want ErrPermissionDenied", err)
			}
		})
	}
}

func TestScopeWithin(t *testing.T) {
	parent := passport.Scope{
		Actions:   []string{"invoice.*", "email.send"},
		Resources: []string{"invoice:*"},
		Limits:    map[string]float64{"amount": 500},
	}
	lim := func(v float64) map[string]float64 { return map[string]float64{"amount": v} }
	tests := []struct {
		name   string
		child  passport.Scope
		parent passport.Scope
		within bool
	}{
		{"same", parent, parent, true},
		{"narrower action", passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"invoice:*"}, Limits: lim(500)}, parent, true},
		{"narrower prefix", passport.Scope{Actions: []string{"invoice.read.*"}, Resources: []string{"invoice:eu:*"}, Limits: lim(10)}, parent, true},
		{"added limit", passport.Scope{Actions: []string{"email.send"}, Resources: []string{"invoice:1"}, Limits: map[string]float64{"amount": 1, "count": 3}}, parent, true},
		{"anything under a wildcard parent", passport.Scope{Actions: []string{"x", "y.*"}}, passport.Scope{Actions: []string{"*"}}, true},
		{"wider action", passport.Scope{Actions: []string{"*"}, Resources: []string{"invoice:*"}, Limits: lim(1)}, parent, false},
		{"sibling prefix", passport.Scope{Actions: []string{"invoices.*"}, Resources: []string{"invoice:*"}, Limits: lim(1)}, parent, false},
		{"exact parent, prefix child", passport.Scope{Actions: []string{"email.send*"}, Resources: []string{"invoice:*"}, Limits: lim(1)}, parent, false},
		{"shorter prefix", passport.Scope{Actions: []string{"invoice*"}, Resources: []string{"invoice:*"}, Limits: lim(1)}, parent, false},
		{"wider resource", passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"*"}, Limits: lim(1)}, parent, false},
		{"dropped resource restriction", passport.Scope{Actions: []string{"invoice.pay"}, Limits: lim(1)}, parent, false},
		{"higher limit", passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"invoice:1"}, Limits: lim(501)}, parent, false},
		{"dropped limit", passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"invoice:1"}}, parent, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.child.Within(tc.parent)
			if tc.within && err != nil {
				t.Fatalf("not within: %v", err)
			}
			if !tc.within && !errors.Is(err, errs.ErrPermissionDenied) {
				t.Fatalf("got %v, want ErrPermissionDenied", err)
			}
		})
	}
}

func TestScopeValidate(t *testing.T) {
	tests := []struct {
		name  string
		scope passport.Scope
		ok    bool
	}{
		{"minimal", passport.Scope{Actions: []string{"a"}}, true},
		{"no actions", passport.Scope{}, false},
		{"empty pattern", passport.Scope{Actions: []string{""}}, false},
		{"inner star", passport.Scope{Actions: []string{"a*b"}}, false},
		{"inner star in resource", passport.Scope{Actions: []string{"a"}, Resources: []string{"*:x"}}, false},
		{"NaN limit", passport.Scope{Actions: []string{"a"}, Limits: map[string]float64{"n": math.NaN()}}, false},
		{"unnamed limit", passport.Scope{Actions: []string{"a"}, Limits: map[string]float64{"": 1}}, false},
	}
	for _, tc := range tests {
		err := tc.scope.Validate()
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, errs.ErrInvalidArgument)) {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
}
