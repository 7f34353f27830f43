package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestDrill runs the runnable drill (sqlite to sqlite; to PostgreSQL too
// when the test service is up) and checks it reports success.
func TestDrill(t *testing.T) {
	targets := map[string]string{"sqlite": ""}
	if u := os.Getenv("HUMAN_TEST_POSTGRES_URL"); u != "" {
		var b [6]byte
		rand.Read(b[:])
		targets["postgres"] = u + "&schema=drill_" + hex.EncodeToString(b[:])
	}
	for name, to := range targets {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(context.Background(), &out, to, "", ""); code != 0 || !strings.Contains(out.String(), "OK: zero divergences") {
				t.Fatalf("exit %d:\n%s", code, out.String())
			}
			t.Log(out.String())
		})
	}
}
