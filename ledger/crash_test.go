package ledger_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// TestReceiptsSurviveReopen: acknowledged receipts are in the file after
// the database is closed and opened again, and the log continues.
func TestReceiptsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := tempDBPath(t)
	signer := newSigner(t)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, sqlite.NewLedgerStore(db), "acme", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := mustAppend(t, l, "a", "b", "c")
	l.Close()
	db.Close()

	l2 := openLog(t, sqlite.NewLedgerStore(openSQLite(t, path)), "acme", signer, nil)
	checkSurvivors(t, l2, rs)
	if r := mustAppend(t, l2, "d")[0]; r.Index != 3 {
		t.Errorf("reopened log appended at %d, want 3", r.Index)
	}
}

func checkSurvivors(t *testing.T, l *ledger.Log, rs []*ledger.Receipt) {
	t.Helper()
	ctx := context.Background()
	_, head, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		now, err := l.Receipt(ctx, r.Index)
		if err != nil || !bytes.Equal(now.Entry, r.Entry) {
			t.Errorf("acknowledged entry %d after reopening: %q, %v; want %q", r.Index, now.Entry, err, r.Entry)
			continue
		}
		cp, err := ledger.ParseCheckpoint(checkpointText(r.Checkpoint))
		if err != nil {
			t.Fatal(err)
		}
		hcp, _ := ledger.ParseCheckpoint(checkpointText(head))
		pr, err := l.ConsistencyProof(ctx, cp.Size, hcp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyConsistency(r.Checkpoint, head, pr, l.Verifier()); err != nil {
			t.Errorf("receipt %d's checkpoint is not a prefix of the reopened log: %v", r.Index, err)
		}
	}
	if err := l.Verify(ctx); err != nil {
		t.Errorf("Verify after reopening: %v", err)
	}
}

// TestReceiptsSurviveKill appends from a child process, which prints each
// receipt as soon as it is acknowledged, and kills it (SIGKILL) mid-stream:
// every receipt it printed must be in the file.
func TestReceiptsSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := tempDBPath(t)
	signer := newSigner(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"LEDGER_CRASH_DB="+path,
		"LEDGER_CRASH_KEY="+base64.StdEncoding.EncodeToString(signer.PrivateKey()))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []*ledger.Receipt
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte("RECEIPT "))
		if !ok {
			continue
		}
		text, err := base64.StdEncoding.DecodeString(string(line))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ledger.ParseReceipt(text)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, r)
		if len(acked) == 40 {
			cmd.Process.Kill()
			break
		}
	}
	cmd.Wait()
	if len(acked) < 40 {
		t.Fatalf("child acknowledged only %d receipts before exiting", len(acked))
	}
	l := openLog(t, sqlite.NewLedgerStore(openSQLite(t, path)), "acme", signer, nil)
	for _, r := range acked {
		if err := ledger.VerifyReceipt(r, l.Verifier()); err != nil {
			t.Errorf("acknowledged receipt %d: %v", r.Index, err)
		}
	}
	checkSurvivors(t, l, acked)
}

// TestCrashChild is the child of TestReceiptsSurviveKill; it does nothing
// unless started by it.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("LEDGER_CRASH_DB")
	if path == "" {
		t.Skip("only runs as TestReceiptsSurviveKill's child")
	}
	key, err := base64.StdEncoding.DecodeString(os.Getenv("LEDGER_CRASH_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, sqlite.NewLedgerStore(db), "acme", passport.NewEd25519Signer(ed25519.PrivateKey(key)), &ledger.Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan *ledger.Receipt, 64)
	for w := range 4 {
		go func() {
			for i := 0; ; i++ {
				r, err := l.Append(ctx, fmt.Appendf(nil, "w%d-%d", w, i))
				if err != nil {
					panic(err)
				}
				results <- r
			}
		}()
	}
	for r := range results {
		text, _ := r.MarshalText()
		fmt.Printf("RECEIPT %s\n", base64.StdEncoding.EncodeToString(text))
	}
}
