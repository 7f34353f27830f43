package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestQuickstartTwice runs the story twice on one data directory: both runs
// must succeed and the second must continue the first one's ledger.
func TestQuickstartTwice(t *testing.T) {
	t.Setenv("HUMAN_DATA_DIR", t.TempDir())
	for _, v := range []string{"HUMAN_STORE", "HUMAN_LEDGER", "HUMAN_BASE_URL", "HUMAN_ORG", "HUMAN_ORG_KEY_FILE"} {
		t.Setenv(v, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var first, second bytes.Buffer
	if err := run(ctx, &first); err != nil {
		t.Fatalf("first run: %v\n%s", err, first.String())
	}
	if err := run(ctx, &second); err != nil {
		t.Fatalf("second run: %v\n%s", err, second.String())
	}
	if strings.Contains(second.String(), "ledger starts at 0 entries") {
		t.Fatalf("second run did not continue the ledger:\n%s", second.String())
	}
	t.Log(first.String())
}
