package human

import (
	"testing"
	"time"

	"github.com/humanos/human/policy"
)

// TestShadowQueueFullDrops: a full shadow queue never blocks Call; the
// call is counted as dropped, and the report is not Zero.
func TestShadowQueueFullDrops(t *testing.T) {
	r := &shadowRunner{queue: make(chan shadowItem, 1), stop: make(chan struct{}), samples: 1}
	r.report.Enabled, r.report.ByKind = true, map[string]uint64{}
	c := &Client{shadowRun: r}
	out := &Outcome{Decision: policy.Decision{Effect: policy.Allow, Rule: "r"}}
	for range 3 {
		r.observe(Request{Agent: "a", Action: "x", Attributes: map[string]any{"n": 1}}, out, time.Time{})
	}
	rep := c.ShadowReport()
	if rep.Observed != 1 || rep.Dropped != 2 || rep.Zero() || r.pending.Load() != 1 {
		t.Fatalf("report %s, pending %d", rep, r.pending.Load())
	}
}
