package s3_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	humans3 "github.com/humanos/human/adapters/s3"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// openLog opens org's log over store with a fresh key.
func openLog(t testing.TB, store ledger.Store, org string) *ledger.Log {
	t.Helper()
	signer, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), store, org, signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// attest appends n signed statements and waits for their receipts.
func attest(t testing.TB, l *ledger.Log, n int) []*ledger.Receipt {
	t.Helper()
	ctx := context.Background()
	var ps []*ledger.Pending
	for i := range n {
		st, err := ledger.NewStatement(ledger.PredicateDecision, map[string]any{"i": i},
			ledger.SubjectFor(fmt.Sprint("call-", i), []byte(strconv.Itoa(i))))
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.Attest(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	var rs []*ledger.Receipt
	for _, p := range ps {
		r, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

// bucketTiles reads C2SP tiles from an S3 export for sumdb/tlog, whose
// paths carry the tile height ("tile/8/L/N") where C2SP's do not.
type bucketTiles struct {
	c            *awss3.Client
	bucket, root string
}

func (b bucketTiles) get(key string) ([]byte, error) {
	out, err := b.c.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.root + key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func (b bucketTiles) Height() int { return ledger.TileHeight }

func (b bucketTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p, ok := strings.CutPrefix(t.Path(), "tile/8/")
		if !ok {
			return nil, fmt.Errorf("unexpected sumdb tile path %s", t.Path())
		}
		data, err := b.get("tile/" + p)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (b bucketTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// TestExportTileBucketVerifiedBySumdbTlog exports a log kept in S3 into the
// same bucket as a C2SP tlog-tiles tree and verifies it with
// golang.org/x/mod only, reading the objects straight from the bucket:
// the checkpoint's signature (sumdb/note), the tree hash from the hash
// tiles and a record proof for every entry of the entry bundles.
func TestExportTileBucketVerifiedBySumdbTlog(t *testing.T) {
	for _, n := range []int{1, 300} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			ctx := context.Background()
			b, c, name := newTestBucket(t, nil)
			l := openLog(t, b.LedgerStore(), "acme")
			attest(t, l, n)
			if _, err := l.Export(ctx, b.ExportSink("public/acme"), nil); err != nil {
				t.Fatalf("Export: %v", err)
			}
			r := bucketTiles{c: c, bucket: name, root: "tenant-1/human/public/acme/"}
			vkey, err := r.get("log.vkey")
			if err != nil {
				t.Fatal(err)
			}
			v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
			if err != nil {
				t.Fatal(err)
			}
			signed, err := r.get("checkpoint")
			if err != nil {
				t.Fatal(err)
			}
			nt, err := note.Open(signed, note.VerifierList(v))
			if err != nil {
				t.Fatalf("sumdb/note rejects the checkpoint: %v", err)
			}
			lines := strings.Split(nt.Text, "\n")
			size, _ := strconv.ParseInt(lines[1], 10, 64)
			raw, _ := base64.StdEncoding.DecodeString(lines[2])
			if size != int64(n) || len(raw) != tlog.HashSize {
				t.Fatalf("checkpoint %q", nt.Text)
			}
			tree := tlog.Tree{N: size, Hash: tlog.Hash(raw)}
			hr := tlog.TileHashReader(tree, r)
			if th, err := tlog.TreeHash(size, hr); err != nil || th != tree.Hash {
				t.Fatalf("sumdb/tlog TreeHash = %v, %v; want %v", th, err, tree.Hash)
			}
			for bundle := int64(0); bundle*ledger.TileWidth < size; bundle++ {
				w := min(int64(ledger.TileWidth), size-bundle*ledger.TileWidth)
				data, err := r.get(ledger.EntryBundlePath(uint64(bundle), int(w)))
				if err != nil {
					t.Fatal(err)
				}
				for k := range w {
					if len(data) < 2 {
						t.Fatalf("bundle %d ends before entry %d", bundle, k)
					}
					ln := int(data[0])<<8 | int(data[1])
					entry := data[2 : 2+ln]
					data = data[2+ln:]
					i := bundle*ledger.TileWidth + k
					p, err := tlog.ProveRecord(size, i, hr)
					if err != nil {
						t.Fatalf("sumdb/tlog ProveRecord(%d): %v", i, err)
					}
					if err := tlog.CheckRecord(p, size, tree.Hash, i, tlog.RecordHash(entry)); err != nil {
						t.Fatalf("sumdb/tlog CheckRecord(entry %d): %v", i, err)
					}
				}
			}
		})
	}
}

// TestLogResumesFromBucket: a second process (a second Log over a second
// client) continues the same log, and receipts from the first still verify.
func TestLogResumesFromBucket(t *testing.T) {
	ctx := context.Background()
	b, c, name := newTestBucket(t, nil)
	signer, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	l1, err := ledger.Open(ctx, b.LedgerStore(), "acme", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	attest(t, l1, 5)
	l1.Close()
	b2, err := humans3.Open(c, name, &humans3.Options{Prefix: "tenant-1/human"})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := ledger.Open(ctx, b2.LedgerStore(), "acme", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	attest(t, l2, 3)
	cp, _, err := l2.Checkpoint(ctx)
	if err != nil || cp.Size != 8 {
		t.Fatalf("Checkpoint = %+v, %v; want size 8", cp, err)
	}
	if _, err := l2.ConsistencyProof(ctx, 5, 8); err != nil {
		t.Fatal(err)
	}
}

// TestAttackForkByRacingWriter: a writer that read the head, lost the race
// to another writer and then tries to append at the same size (or to
// create the batch object behind the adapter's back at an index inside the
// log) never changes what readers see.
func TestAttackForkByRacingWriter(t *testing.T) {
	ctx := context.Background()
	b, c, name := newTestBucket(t, nil)
	s := b.LedgerStore()
	if err := s.Append(ctx, "acme", 0, [][]byte{[]byte("a"), []byte("b")}, nil, []byte("cp2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, "acme", 0, [][]byte{[]byte("x")}, nil, []byte("forged")); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("second append at 0: %v, want ErrConflict", err)
	}
	// A raw conditional PUT of the batch object at 0 fails in S3 itself.
	_, err := c.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: &name, Key: aws.String("tenant-1/human/ledger/acme/batch/00000000000000000000"),
		Body: strings.NewReader(`{}`), IfNoneMatch: aws.String("*"),
	})
	if err == nil {
		t.Fatal("S3 accepted a second batch object at index 0")
	}
	got, err := s.Entries(ctx, "acme", 0, 2)
	if err != nil || string(got[0]) != "a" || string(got[1]) != "b" {
		t.Fatalf("entries after the attack = %q, %v", got, err)
	}
}

// TestCrashBetweenCommitAndHint: a writer that created its batch object
// and stopped before writing entries, nodes or the head hint has
// committed; the next reader finishes its work and sees it.
func TestCrashBetweenCommitAndHint(t *testing.T) {
	ctx := context.Background()
	b, c, name := newTestBucket(t, nil)
	s := b.LedgerStore()
	if err := s.Append(ctx, "acme", 0, [][]byte{[]byte("a")}, nil, []byte("cp1")); err != nil {
		t.Fatal(err)
	}
	batch := fmt.Sprintf(`{"size":1,"end":2,"entries":[%q],"nodes":[{"level":0,"index":1,"hash":%q}],"checkpoint":%q}`,
		base64.StdEncoding.EncodeToString([]byte("b")), base64.StdEncoding.EncodeToString([]byte("h1")),
		base64.StdEncoding.EncodeToString([]byte("cp2")))
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: &name, Key: aws.String("tenant-1/human/ledger/acme/batch/00000000000000000001"),
		Body: strings.NewReader(batch), IfNoneMatch: aws.String("*"),
	}); err != nil {
		t.Fatal(err)
	}
	size, cp, err := s.Head(ctx, "acme")
	if err != nil || size != 2 || string(cp) != "cp2" {
		t.Fatalf("Head = %d, %q, %v; want 2, cp2", size, cp, err)
	}
	got, err := s.Entries(ctx, "acme", 0, 2)
	if err != nil || string(got[1]) != "b" {
		t.Fatalf("Entries = %q, %v", got, err)
	}
	if h, err := s.Nodes(ctx, "acme", []ledger.NodeID{{Level: 0, Index: 1}}); err != nil || string(h[0]) != "h1" {
		t.Fatalf("Nodes = %q, %v", h, err)
	}
	if err := s.Append(ctx, "acme", 1, [][]byte{[]byte("x")}, nil, []byte("forged")); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("append at the pre-crash size: %v, want ErrConflict", err)
	}
}

// TestObjectLockRetention: with Retention set, ledger objects are under
// COMPLIANCE retention; deleting the stored entry's version is refused.
func TestObjectLockRetention(t *testing.T) {
	ctx := context.Background()
	b, c, name := newTestBucket(t, &humans3.Options{Retention: time.Hour})
	s := b.LedgerStore()
	if err := s.Append(ctx, "acme", 0, [][]byte{[]byte("a")}, nil, []byte("cp1")); err != nil {
		t.Fatal(err)
	}
	key := aws.String("ledger/acme/entry/00000000000000000000")
	ret, err := c.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: &name, Key: key})
	if err != nil {
		t.Fatalf("GetObjectRetention: %v", err)
	}
	if ret.Retention == nil || ret.Retention.Mode != "COMPLIANCE" || time.Until(aws.ToTime(ret.Retention.RetainUntilDate)) < 50*time.Minute {
		t.Fatalf("retention = %+v, want COMPLIANCE for about an hour", ret.Retention)
	}
	head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &name, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &name, Key: key, VersionId: head.VersionId})
	if err == nil {
		t.Fatal("deleting a retained ledger entry succeeded")
	}
	got, err := s.Entries(ctx, "acme", 0, 1)
	if err != nil || string(got[0]) != "a" {
		t.Fatalf("entry after delete attempt = %q, %v", got, err)
	}
}
