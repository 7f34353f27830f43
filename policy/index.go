package policy

import "sync"

// actionIndex finds the rules whose action patterns can match an action,
// so evaluation looks only at those. Each action named exactly by some rule
// has its candidate list (exact rules and matching prefix rules, in
// document order) built at compile time; other actions get theirs from the
// prefix rules on first sight, cached up to maxIndexCache actions.
type actionIndex struct {
	exact map[string][]int32
	wild  []int32 // rules with at least one prefix pattern, document order

	mu    sync.RWMutex
	cache map[string][]int32
}

// maxIndexCache bounds the candidate lists cached for actions no rule
// names exactly; past it such actions are scanned, so hostile callers that
// invent actions cannot grow memory.
const maxIndexCache = 4096

func buildIndex(rules []compiledRule) *actionIndex {
	ix := &actionIndex{exact: map[string][]int32{}, cache: map[string][]int32{}}
	for i := range rules {
		for _, g := range rules[i].actions {
			if g.wild {
				ix.wild = append(ix.wild, int32(i))
				break
			}
		}
	}
	for i := range rules {
		for _, g := range rules[i].actions {
			if g.wild {
				continue
			}
			if _, done := ix.exact[g.text]; done {
				continue
			}
			ix.exact[g.text] = ix.scan(rules, g.text)
		}
	}
	return ix
}

// scan lists, in document order, every rule with a pattern matching action.
func (ix *actionIndex) scan(rules []compiledRule, action string) []int32 {
	var out []int32
	for i := range rules {
		if rules[i].actions.match(action) {
			out = append(out, int32(i))
		}
	}
	return out
}

// candidatesOf returns the rules that may match action, in document order.
func (p *Policy) candidatesOf(action string) []int32 {
	ix := p.index
	if c, ok := ix.exact[action]; ok {
		return c
	}
	if len(ix.wild) == 0 {
		return nil
	}
	ix.mu.RLock()
	c, ok := ix.cache[action]
	ix.mu.RUnlock()
	if ok {
		return c
	}
	for _, i := range ix.wild {
		if p.rules[i].actions.match(action) {
			c = append(c, i)
		}
	}
	ix.mu.Lock()
	if len(ix.cache) < maxIndexCache {
		ix.cache[action] = c
	}
	ix.mu.Unlock()
	return c
}
