package ledger_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// Invariant 8: the ledger is append-only and verifiable. Each test here
// tries an attack on the stored log and shows verification catches it.

// rawSQL opens a second, plain connection to the database file, as an
// attacker with write access to the file would.
func rawSQL(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// setNodeSQLite overwrites the hash of node (level, index) of log "acme"
// in a SQLite ledger, where it lives in the nodes column of the row of the
// entry whose append completed it (adapters/sqlite/ledger_nodes.go: per
// node a level byte, a length byte and the hash).
func setNodeSQLite(t *testing.T, db *sql.DB, level byte, index uint64, hash []byte) {
	t.Helper()
	leaf := (index+1)<<level - 1
	var col []byte
	if err := db.QueryRow(`SELECT nodes FROM ledger_entries WHERE log = 'acme' AND idx = ?`, leaf).Scan(&col); err != nil {
		t.Fatalf("node (%d, %d): reading entry %d: %v", level, index, leaf, err)
	}
	for at := 0; at+2 <= len(col); at += 2 + int(col[at+1]) {
		if col[at] == level && int(col[at+1]) == len(hash) {
			copy(col[at+2:], hash)
			mustExec(t, db, `UPDATE ledger_entries SET nodes = ? WHERE log = 'acme' AND idx = ?`, col, leaf)
			return
		}
	}
	t.Fatalf("node (%d, %d) is not in the nodes of entry %d", level, index, leaf)
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	res, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s changed no row", q)
	}
}

// sqliteFixture is org "acme"'s log on a fresh database file.
type sqliteFixture struct {
	log    *ledger.Log
	path   string
	store  ledger.Store
	signer *passport.Ed25519Signer
}

func sqliteLog(t *testing.T) *sqliteFixture {
	t.Helper()
	f := &sqliteFixture{path: tempDBPath(t), signer: newSigner(t)}
	f.store = sqlite.NewLedgerStore(openSQLite(t, f.path))
	f.log = openLog(t, f.store, "acme", f.signer, nil)
	return f
}

func TestAttackChangedEntryMemory(t *testing.T) {
	ctx := context.Background()
	h := &hookStore{Store: memory.NewLedgerStore()}
	l := openLog(t, h, "acme", newSigner(t), nil)
	rs := mustAppend(t, l, "pay 10", "pay 20", "pay 30", "pay 40")
	h.mu.Lock()
	h.onEntries = func(start uint64, es [][]byte) ([][]byte, error) {
		for i := range es {
			if start+uint64(i) == 2 {
				es[i] = []byte("pay 3000")
			}
		}
		return es, nil
	}
	h.mu.Unlock()
	_, err := l.Entry(ctx, 2)
	wantKind(t, "Entry of a changed entry", err, errs.ErrUnauthenticated)
	_, err = l.Receipt(ctx, 2)
	wantKind(t, "Receipt of a changed entry", err, errs.ErrUnauthenticated)
	wantKind(t, "Verify of a log with a changed entry", l.Verify(ctx), errs.ErrUnauthenticated)
	// The receipt handed out at append time no longer matches the entry an
	// attacker presents.
	forged := *rs[2]
	forged.Entry = []byte("pay 3000")
	forged.LeafHash = ledger.LeafHash(forged.Entry)
	wantKind(t, "old receipt over the changed entry", ledger.VerifyReceipt(&forged, l.Verifier()), errs.ErrUnauthenticated)
	if _, err := l.Entry(ctx, 1); err != nil {
		t.Errorf("untouched entry 1: %v", err)
	}
}

func TestAttackChangedEntrySQLite(t *testing.T) {
	ctx := context.Background()
	f := sqliteLog(t)
	mustAppend(t, f.log, "pay 10", "pay 20", "pay 30", "pay 40", "pay 50")
	mustExec(t, rawSQL(t, f.path), `UPDATE ledger_entries SET entry = ? WHERE log = 'acme' AND idx = 2`, []byte("pay 3000"))
	_, err := f.log.Entry(ctx, 2)
	wantKind(t, "Entry of a changed row", err, errs.ErrUnauthenticated)
	wantKind(t, "Verify", f.log.Verify(ctx), errs.ErrUnauthenticated)
}

func TestAttackChangedEntryWithRecomputedNodesSQLite(t *testing.T) {
	// The attacker also rewrites the leaf node to match the new entry, then
	// the top node: without the signing key the checkpoint's root still
	// gives it away.
	ctx := context.Background()
	f := sqliteLog(t)
	mustAppend(t, f.log, "a", "b", "c", "d")
	db := rawSQL(t, f.path)
	mustExec(t, db, `UPDATE ledger_entries SET entry = ? WHERE log = 'acme' AND idx = 0`, []byte("z"))
	setNodeSQLite(t, db, 0, 0, ledger.LeafHash([]byte("z")))
	_, err := f.log.Receipt(ctx, 0)
	wantKind(t, "Receipt", err, errs.ErrUnauthenticated)
	wantKind(t, "Verify", f.log.Verify(ctx), errs.ErrUnauthenticated)
	setNodeSQLite(t, db, 2, 0, bytes.Repeat([]byte{7}, 32))
	_, err = ledger.Open(ctx, f.store, "acme", f.signer, nil)
	wantKind(t, "Open of a log whose stored tree disagrees with its checkpoint", err, errs.ErrUnauthenticated)
}

func TestAttackChangedNodeSQLite(t *testing.T) {
	ctx := context.Background()
	f := sqliteLog(t)
	mustAppend(t, f.log, "a", "b", "c", "d", "e")
	setNodeSQLite(t, rawSQL(t, f.path), 0, 1, bytes.Repeat([]byte{1}, 32))
	_, err := f.log.Receipt(ctx, 0) // its proof starts with node (0, 1)
	wantKind(t, "Receipt with a changed proof node", err, errs.ErrUnauthenticated)
}

func TestAttackDeletedEntrySQLite(t *testing.T) {
	ctx := context.Background()
	f := sqliteLog(t)
	mustAppend(t, f.log, "a", "b", "c", "d", "e")
	mustExec(t, rawSQL(t, f.path), `DELETE FROM ledger_entries WHERE log = 'acme' AND idx = 2`)
	_, err := f.log.Entry(ctx, 2)
	wantKind(t, "Entry of a deleted row", err, errs.ErrUnauthenticated)
	wantKind(t, "Verify after deleting a middle entry", f.log.Verify(ctx), errs.ErrUnauthenticated)
}

func TestAttackTruncatedLogSQLite(t *testing.T) {
	ctx := context.Background()
	f := sqliteLog(t)
	rs := mustAppend(t, f.log, "a", "b", "c", "d", "e")
	f.log.Close()
	db := rawSQL(t, f.path)
	mustExec(t, db, `DELETE FROM ledger_entries WHERE log = 'acme' AND idx = 4`)
	mustExec(t, db, `UPDATE ledger_heads SET size = 4 WHERE log = 'acme'`)
	// The head's checkpoint still says 5: reopening the log refuses it.
	_, err := ledger.Open(ctx, f.store, "acme", f.signer, nil)
	wantKind(t, "Open of a truncated log", err, errs.ErrUnauthenticated)

	// Rolling back to an older, genuinely signed checkpoint is caught by
	// anyone holding the newer one (a receipt holder, a monitor).
	mustExec(t, db, `UPDATE ledger_heads SET checkpoint = ? WHERE log = 'acme'`, rs[3].Checkpoint)
	rolled := openLog(t, f.store, "acme", f.signer, nil)
	_, now, err := rolled.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyConsistency(rs[4].Checkpoint, now, nil, rolled.Verifier()); err == nil {
		t.Error("a checkpoint of size 4 was accepted as consistent after one of size 5")
	}
	if _, err := rolled.Receipt(ctx, 4); err == nil {
		t.Error("the rolled-back log still serves entry 4")
	}
}

func TestAttackForgedCheckpoint(t *testing.T) {
	ctx := context.Background()
	f := sqliteLog(t)
	rs := mustAppend(t, f.log, "a", "b", "c")
	f.log.Close()

	// An attacker with another key builds a log with the same origin over
	// different entries and signs its checkpoint.
	evil := openLog(t, memory.NewLedgerStore(), "acme", newSigner(t), nil)
	forged := mustAppend(t, evil, "a", "b", "evil")
	wantKind(t, "forged receipt", ledger.VerifyReceipt(forged[2], f.log.Verifier()), errs.ErrUnauthenticated)
	swapped := *rs[2]
	swapped.Checkpoint = forged[2].Checkpoint
	wantKind(t, "genuine receipt with forged checkpoint", ledger.VerifyReceipt(&swapped, f.log.Verifier()), errs.ErrUnauthenticated)

	// Planting it (and the matching entry and nodes) in the store does not
	// get past the log.
	db := rawSQL(t, f.path)
	mustExec(t, db, `UPDATE ledger_heads SET checkpoint = ? WHERE log = 'acme'`, forged[2].Checkpoint)
	_, err := ledger.Open(ctx, f.store, "acme", f.signer, nil)
	wantKind(t, "Open with a forged checkpoint", err, errs.ErrUnauthenticated)

	// A note under the right name signed by an unknown key, and the genuine
	// note with a garbled signature, fail as well.
	other := forgedNote(t, f.log.Origin())
	r := &ledger.Receipt{Index: 0, Entry: []byte("x"), Checkpoint: other}
	wantKind(t, "checkpoint signed by an unknown key", ledger.VerifyReceipt(r, f.log.Verifier()), errs.ErrUnauthenticated)
	garbled := bytes.Clone(rs[2].Checkpoint)
	garbled[len(garbled)-5] ^= 1
	if garbled[len(garbled)-5] == '=' || garbled[len(garbled)-5] == '\n' {
		garbled[len(garbled)-5] = 'A'
	}
	g := *rs[2]
	g.Checkpoint = garbled
	if err := ledger.VerifyReceipt(&g, f.log.Verifier()); err == nil {
		t.Error("a garbled checkpoint signature verified")
	}
}

// forgedNote signs a checkpoint body for origin with a fresh key.
func forgedNote(t *testing.T, origin string) []byte {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	cp := ledger.Checkpoint{Origin: origin, Size: 1, Hash: ledger.LeafHash([]byte("x"))}
	msg, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestAttackFork shows a log operator (holding the real key) that shows
// two different trees to two parties is caught by a consistency check
// between the checkpoints they hold.
func TestAttackFork(t *testing.T) {
	ctx := context.Background()
	signer := newSigner(t)
	a := openLog(t, memory.NewLedgerStore(), "acme", signer, nil)
	b := openLog(t, memory.NewLedgerStore(), "acme", signer, nil)
	// Appended one at a time, receipt i carries the checkpoint of size i+1.
	ra := mustAppend(t, a, "e0", "e1", "e2", "honest", "e4")
	rb := mustAppend(t, b, "e0", "e1", "e2", "rewritten", "e4")
	a3, a5, b4, b5 := ra[2].Checkpoint, ra[4].Checkpoint, rb[3].Checkpoint, rb[4].Checkpoint
	v := a.Verifier()

	wantKind(t, "two checkpoints of size 5 with different roots", ledger.VerifyConsistency(a5, b5, nil, v), errs.ErrUnauthenticated)
	pr, err := a.ConsistencyProof(ctx, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "the fork's size 4 against the honest size 5", ledger.VerifyConsistency(b4, a5, pr, v), errs.ErrUnauthenticated)
	prB, err := b.ConsistencyProof(ctx, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "the fork's own proof from the honest size 4", ledger.VerifyConsistency(ra[3].Checkpoint, b5, prB, v), errs.ErrUnauthenticated)
	pr35, _ := b.ConsistencyProof(ctx, 3, 5)
	if err := ledger.VerifyConsistency(a3, b5, pr35, v); err != nil {
		t.Errorf("the shared prefix (size 3) is consistent with both branches: %v", err)
	}
	// A receipt from one branch does not verify against the other's head.
	r, err := a.Receipt(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	r.Checkpoint = b5
	wantKind(t, "receipt of the honest branch against the fork", ledger.VerifyReceipt(r, v), errs.ErrUnauthenticated)
}

// TestAttackTwoWritersOneFile runs two Logs on two separate handles of one
// SQLite file (two processes) appending concurrently: the result must be
// one linear log, never a fork.
func TestAttackTwoWritersOneFile(t *testing.T) {
	ctx := context.Background()
	path := tempDBPath(t)
	signer := newSigner(t)
	logs := []*ledger.Log{
		openLog(t, sqlite.NewLedgerStore(openSQLite(t, path)), "acme", signer, &ledger.Options{MaxBatch: 8}),
		openLog(t, sqlite.NewLedgerStore(openSQLite(t, path)), "acme", signer, &ledger.Options{MaxBatch: 8}),
	}
	const perWriter, writersPerLog = 15, 3
	var mu sync.Mutex
	var receipts []*ledger.Receipt
	var wg sync.WaitGroup
	for li, l := range logs {
		for w := range writersPerLog {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var pending []*ledger.Pending
				for i := range perWriter {
					p, err := l.Submit(ctx, fmt.Appendf(nil, "log%d-w%d-%d", li, w, i))
					if err != nil {
						t.Error(err)
						return
					}
					pending = append(pending, p)
				}
				for _, p := range pending {
					r, err := p.Wait(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					receipts = append(receipts, r)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	total := len(logs) * writersPerLog * perWriter
	if len(receipts) != total {
		t.Fatalf("%d receipts, want %d", len(receipts), total)
	}
	_, final, err := logs[0].Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(receipts, func(i, j int) bool { return receipts[i].Index < receipts[j].Index })
	for i, r := range receipts {
		if r.Index != uint64(i) {
			t.Fatalf("indices are not 0..%d without gaps or duplicates: position %d has %d", total-1, i, r.Index)
		}
		if err := ledger.VerifyReceipt(r, logs[0].Verifier()); err != nil {
			t.Errorf("receipt %d: %v", i, err)
		}
		// Against the final checkpoint: same entry at the same index, and
		// the checkpoint it got extends into the final one.
		now, err := logs[1].Receipt(ctx, r.Index)
		if err != nil || !bytes.Equal(now.Entry, r.Entry) || !bytes.Equal(now.Checkpoint, final) {
			t.Errorf("entry %d now reads %q, %v; want %q against the final checkpoint", r.Index, now.Entry, err, r.Entry)
		}
		cp, _ := ledger.ParseCheckpoint(checkpointText(r.Checkpoint))
		pr, err := logs[0].ConsistencyProof(ctx, cp.Size, uint64(total))
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyConsistency(r.Checkpoint, final, pr, logs[0].Verifier()); err != nil {
			t.Errorf("checkpoint of receipt %d does not extend into the final one: %v", i, err)
		}
	}
	for _, l := range logs {
		if err := l.Verify(ctx); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
}

// checkpointText is the note text of a signed checkpoint.
func checkpointText(signed []byte) []byte {
	i := bytes.Index(signed, []byte("\n\n"))
	return signed[:i+1]
}

// TestAttackEnvelopeSignatureAsCheckpoint: the org key signs both DSSE
// envelopes and checkpoints. A DSSE signature (over "DSSEv1 ...") replayed
// as a checkpoint signature verifies as a note, but its text can never be
// a checkpoint: an origin line holds no space.
func TestAttackEnvelopeSignatureAsCheckpoint(t *testing.T) {
	signer := newSigner(t)
	l := openLog(t, memory.NewLedgerStore(), "acme", signer, nil)
	payload := []byte("\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n")
	env, err := passport.Seal("humanos.dev/ledger/acme", payload, signer)
	if err != nil {
		t.Fatal(err)
	}
	text := passport.PAE(env.PayloadType, env.Payload)
	var hash [4]byte
	binary.BigEndian.PutUint32(hash[:], l.Verifier().KeyHash())
	forged := fmt.Appendf(nil, "%s\n\u2014 %s %s\n", text, l.Origin(),
		base64.StdEncoding.EncodeToString(append(hash[:], env.Signatures[0].Sig...)))
	if _, err := note.Open(forged, note.VerifierList(l.Verifier())); err != nil {
		t.Fatalf("setup: the replayed signature should verify as a note: %v", err)
	}
	r := &ledger.Receipt{Index: 0, LeafHash: bytes.Repeat([]byte{0}, 32), Checkpoint: forged}
	if err := ledger.VerifyReceipt(r, l.Verifier()); err == nil {
		t.Error("a DSSE signature was accepted as a checkpoint")
	}
}
