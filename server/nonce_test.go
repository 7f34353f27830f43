package server

import (
	"fmt"
	"testing"
	"time"
)

// TestNonceCache checks the replay cache: a nonce is refused while its
// entry lives, accepted again once expired, and a cache full of live
// entries refuses new ones (rather than forgetting live ones, which would
// open a replay).
func TestNonceCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newNonceCache(32 * 16) // 16 per shard
	if got := c.add("k n1", now.Add(time.Minute), now); got != nonceOK {
		t.Fatalf("first use = %d, want ok", got)
	}
	if got := c.add("k n1", now.Add(time.Minute), now.Add(59*time.Second)); got != nonceReplayed {
		t.Fatalf("replay inside the window = %d, want replayed", got)
	}
	if got := c.add("k n1", now.Add(3*time.Minute), now.Add(time.Minute)); got != nonceOK {
		t.Fatalf("use after expiry = %d, want ok", got)
	}
	if got := c.add("other-key n1", now.Add(time.Minute), now); got != nonceOK {
		t.Fatalf("same nonce under another key id = %d, want ok", got)
	}
	// Fill: 32 shards x 16; some shard reports full before all 512 land.
	full := false
	for i := range 10000 {
		if c.add(fmt.Sprintf("k fill-%d", i), now.Add(time.Hour), now) == nonceFull {
			full = true
			break
		}
	}
	if !full {
		t.Fatal("the cache never reported full")
	}
	// Once the entries expire, a sweep makes room again.
	later := now.Add(2 * time.Hour)
	for i := range 32 {
		if got := c.add(fmt.Sprintf("k after-%d", i), later.Add(time.Minute), later); got != nonceOK {
			t.Fatalf("add after expiry = %d, want ok", got)
		}
	}
}

// BenchmarkNonceCache is the cost of one add at a busy server's fill
// (1.5 M live entries: 5,000 requests/s over a 5-minute window).
func BenchmarkNonceCache(b *testing.B) {
	c := newNonceCache(defaultNonces)
	now := time.Now()
	for i := range 1_500_000 {
		c.add(fmt.Sprintf("key n%d", i), now.Add(5*time.Minute), now)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.add(fmt.Sprintf("key m%d", i), now.Add(5*time.Minute), now)
		i++
	}
}
