package human_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TestCrashLosesNoAcknowledgedWrite kills a process with SIGKILL while it
// appends to the embedded ledger from several goroutines, then reopens the
// store: every entry whose receipt the dead process had been given must be
// there, byte for byte, and the log must verify.
func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	if dir := os.Getenv("HUMAN_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNoAcknowledgedWrite$")
	cmd.Env = append(os.Environ(), "HUMAN_CRASH_CHILD="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && len(acked) < 300 {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			continue
		}
		i, _ := strconv.ParseUint(f[1], 10, 64)
		acked[i] = f[2]
	}
	cmd.Process.Kill() // SIGKILL: no deferred Close, no flush
	cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("child acknowledged only %d appends before exiting; stderr:\n%s", len(acked), stderr.String())
	}

	ctx := context.Background()
	c, err := human.Open(ctx, crashConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cp, _, err := c.Ledger().Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, leaf := range acked {
		if i >= cp.Size {
			t.Fatalf("acknowledged index %d is beyond the recovered size %d", i, cp.Size)
		}
		e, err := c.Ledger().Entry(ctx, i)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if got := hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(e)); got != leaf {
			t.Fatalf("entry %d changed: leaf %s, acknowledged %s", i, got, leaf)
		}
		r, err := c.Ledger().Receipt(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := human.VerifyReceipt(r, c.LedgerKey()); err != nil {
			t.Fatalf("entry %d after recovery: %v", i, err)
		}
	}
	t.Logf("%d acknowledged appends survived SIGKILL; recovered log size %d", len(acked), cp.Size)
}

func crashConfig(dir string) human.Config {
	return human.Config{DataDir: dir, Store: "sqlite://" + filepath.ToSlash(filepath.Join(dir, "human.db"))}
}

func crashChild(dir string) {
	ctx := context.Background()
	c, err := human.Open(ctx, crashConfig(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				entry := []byte(fmt.Sprintf("goroutine %d entry %d at %s", g, n, time.Now()))
				r, err := c.Ledger().Append(ctx, entry)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %d %s\n", r.Index, hex.EncodeToString(r.LeafHash))
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
