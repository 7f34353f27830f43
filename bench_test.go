package human_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/passport"
)

// BenchmarkCall measures the allowed path of a governed call: delegation
// chain check (warm), scope check, policy evaluation, a signed attestation.
// "queued" returns once the attestation is queued for the ledger
// (Config.AsyncAttest); "durable" waits for its batch to be committed.
func BenchmarkCall(b *testing.B) {
	for _, store := range []string{"memory", "sqlite"} {
		for _, async := range []bool{true, false} {
			mode := "durable"
			if async {
				mode = "queued"
			}
			b.Run(fmt.Sprintf("store=%s/attest=%s", store, mode), func(b *testing.B) {
				cfg := human.Config{Store: "mem://", AsyncAttest: async}
				if store == "sqlite" {
					dir := b.TempDir()
					cfg = human.Config{Store: "sqlite://" + filepath.ToSlash(filepath.Join(dir, "h.db")), DataDir: dir, AsyncAttest: async}
				}
				w := setup(b, cfg)
				req := human.Request{Agent: w.agent.DID, Delegation: w.dlg.ID, Action: "payments.send", Resource: "invoice:1",
					Attributes: map[string]any{"amount": 42.0}}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						out, err := w.c.Call(ctx, req)
						if err != nil || out.Status != human.Allowed {
							b.Errorf("call: %v %v", out, err)
							return
						}
					}
				})
				b.StopTimer()
				// Drain so queued attestations do not leak into the next run.
				ctx2, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				if _, err := w.c.Call(ctx2, req); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkBaselineEd25519Sign is the yardstick for BenchmarkCall: one
// Ed25519 signature, the least an attested decision can cost. README
// figures are reported as ratios to it, measured in the same run.
func BenchmarkBaselineEd25519Sign(b *testing.B) {
	s, err := passport.GenerateEd25519()
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(msg); err != nil {
			b.Fatal(err)
		}
	}
}
