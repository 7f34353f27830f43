package policy

import (
	"fmt"
	"strings"
)

// MatchPattern reports whether value matches the glob pattern used in a rule's
// actions and resources:
//
//   - "*" matches every value, including the empty one;
//   - a pattern ending in "*" ("payments.*", "invoice:*") matches every value
//     that starts with the text before the "*" ("payments.*" matches
//     "payments.send" and "payments.wire.intl" but not "payments");
//   - any other pattern matches only the identical value.
//
// A "*" anywhere but at the end is not a wildcard; such patterns are
// rejected when a policy is parsed, and Match treats them as matching
// nothing.
func MatchPattern(pattern, value string) bool {
	prefix, wild := strings.CutSuffix(pattern, "*")
	if strings.Contains(prefix, "*") {
		return false
	}
	if wild {
		return strings.HasPrefix(value, prefix)
	}
	return pattern == value
}

// checkPattern says why pattern is not a valid glob, or returns nil.
func checkPattern(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("empty pattern; use \"*\" to match everything")
	}
	if i := strings.IndexByte(pattern, '*'); i >= 0 && i != len(pattern)-1 {
		return fmt.Errorf("bad glob %q: '*' may only end a pattern (\"payments.*\")", pattern)
	}
	for _, c := range pattern {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("bad glob %q: control character", pattern)
		}
	}
	return nil
}

// glob is a pre-split pattern, so matching does not re-scan the pattern.
type glob struct {
	text string
	wild bool // text is a prefix
}

func compileGlob(pattern string) glob {
	prefix, wild := strings.CutSuffix(pattern, "*")
	return glob{text: prefix, wild: wild}
}

func (g glob) match(v string) bool {
	if g.wild {
		return strings.HasPrefix(v, g.text)
	}
	return v == g.text
}

// globs matches when any of its patterns does; an empty set matches all.
type globs []glob

func (gs globs) match(v string) bool {
	if len(gs) == 0 {
		return true
	}
	for _, g := range gs {
		if g.match(v) {
			return true
		}
	}
	return false
}
