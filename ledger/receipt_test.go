package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

func errsIs(err, kind error) bool { return errors.Is(err, kind) }

func TestReceiptText(t *testing.T) {
	l, _ := newMemLog(t)
	rs := mustAppend(t, l, "a", "b", "c", "d", "e")
	r := rs[2]
	text, err := r.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(text, []byte("c2sp.org/tlog-proof@v1\nextra Yw==\nindex 2\n")) {
		t.Errorf("receipt text starts %q", text[:min(len(text), 60)])
	}
	got, err := ledger.ParseReceipt(text)
	if err != nil {
		t.Fatal(err)
	}
	if got.Index != r.Index || !bytes.Equal(got.Entry, r.Entry) || !bytes.Equal(got.LeafHash, r.LeafHash) ||
		!bytes.Equal(got.Checkpoint, r.Checkpoint) || !sameHashes(got.Proof, r.Proof) {
		t.Errorf("round trip changed the receipt: %+v vs %+v", got, r)
	}
	if err := ledger.VerifyReceipt(got, l.Verifier()); err != nil {
		t.Errorf("parsed receipt: %v", err)
	}

	// Without the entry (a detached proof): the verifier supplies it.
	detached := *r
	detached.Entry, detached.LeafHash = nil, nil
	text, err = detached.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	got, err = ledger.ParseReceipt(text)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "detached receipt without entry", ledger.VerifyReceipt(got, l.Verifier()), errs.ErrInvalidArgument)
	got.Entry = []byte("c")
	if err := ledger.VerifyReceipt(got, l.Verifier()); err != nil {
		t.Errorf("detached receipt with the entry supplied: %v", err)
	}
	got.Entry = []byte("x")
	wantKind(t, "detached receipt with another entry", ledger.VerifyReceipt(got, l.Verifier()), errs.ErrUnauthenticated)

	var viaIface ledger.Receipt
	if err := viaIface.UnmarshalText(text); err != nil || viaIface.Index != 2 {
		t.Errorf("UnmarshalText = %+v, %v", viaIface, err)
	}
	if _, err := (&ledger.Receipt{}).MarshalText(); !errsIs(err, errs.ErrInvalidArgument) {
		t.Errorf("MarshalText without checkpoint: %v", err)
	}
}

func TestVerifyReceiptRejects(t *testing.T) {
	l, _ := newMemLog(t)
	rs := mustAppend(t, l, "a", "b", "c", "d", "e")
	other, _ := newMemLog(t)
	base := rs[3]
	flip := func(b []byte) []byte { c := bytes.Clone(b); c[0] ^= 1; return c }
	for _, tc := range []struct {
		name   string
		mutate func(r *ledger.Receipt)
		v      note.Verifier
		kind   error
	}{
		{"wrong index", func(r *ledger.Receipt) { r.Index = 2 }, nil, errs.ErrUnauthenticated},
		{"index beyond size", func(r *ledger.Receipt) { r.Index = 9 }, nil, errs.ErrUnauthenticated},
		{"flipped proof hash", func(r *ledger.Receipt) { r.Proof[0] = flip(r.Proof[0]) }, nil, errs.ErrUnauthenticated},
		{"dropped proof hash", func(r *ledger.Receipt) { r.Proof = r.Proof[1:] }, nil, errs.ErrUnauthenticated},
		{"other entry", func(r *ledger.Receipt) { r.Entry = []byte("x") }, nil, errs.ErrUnauthenticated},
		{"leaf hash of other entry", func(r *ledger.Receipt) { r.LeafHash = ledger.LeafHash([]byte("x")) }, nil, errs.ErrUnauthenticated},
		{"other entry and its leaf hash", func(r *ledger.Receipt) { r.Entry = []byte("x"); r.LeafHash = ledger.LeafHash(r.Entry) }, nil, errs.ErrUnauthenticated},
		{"other log's verifier", func(r *ledger.Receipt) {}, other.Verifier(), errs.ErrUnauthenticated},
		{"tampered checkpoint text", func(r *ledger.Receipt) {
			r.Checkpoint = bytes.Replace(r.Checkpoint, []byte("\n4\n"), []byte("\n5\n"), 1)
		}, nil, errs.ErrUnauthenticated},
		{"no checkpoint", func(r *ledger.Receipt) { r.Checkpoint = nil }, nil, errs.ErrInvalidArgument},
		{"garbage checkpoint", func(r *ledger.Receipt) { r.Checkpoint = []byte("garbage") }, nil, errs.ErrInvalidArgument},
		{"short proof hash", func(r *ledger.Receipt) { r.Proof[0] = r.Proof[0][:5] }, nil, errs.ErrInvalidArgument},
		{"no entry nor leaf hash", func(r *ledger.Receipt) { r.Entry, r.LeafHash = nil, nil }, nil, errs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := *base
			r.Proof = append([][]byte(nil), base.Proof...)
			tc.mutate(&r)
			v := tc.v
			if v == nil {
				v = l.Verifier()
			}
			wantKind(t, "VerifyReceipt", ledger.VerifyReceipt(&r, v), tc.kind)
		})
	}
	wantKind(t, "VerifyReceipt(nil)", ledger.VerifyReceipt(nil, l.Verifier()), errs.ErrInvalidArgument)
	if err := ledger.VerifyReceipt(base, l.Verifier()); err != nil {
		t.Errorf("the untouched receipt: %v", err)
	}
}

func TestParseReceiptRejects(t *testing.T) {
	l, _ := newMemLog(t)
	_, cp, _ := l.Checkpoint(context.Background())
	h := "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
	for name, text := range map[string]string{
		"empty":            "",
		"wrong header":     "c2sp.org/tlog-proof@v2\nindex 0\n\n" + string(cp),
		"no index":         "c2sp.org/tlog-proof@v1\n\n" + string(cp),
		"leading zero":     "c2sp.org/tlog-proof@v1\nindex 01\n\n" + string(cp),
		"negative index":   "c2sp.org/tlog-proof@v1\nindex -1\n\n" + string(cp),
		"bad extra":        "c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\n" + string(cp),
		"short hash":       "c2sp.org/tlog-proof@v1\nindex 0\nYWJj\n\n" + string(cp),
		"no checkpoint":    "c2sp.org/tlog-proof@v1\nindex 0\n" + h + "\n\n",
		"no blank line":    "c2sp.org/tlog-proof@v1\nindex 0\n" + h + "\n",
		"index overflow":   "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n" + string(cp),
		"truncated header": "c2sp.org/tlog-proof@v1",
	} {
		if _, err := ledger.ParseReceipt([]byte(text)); !errsIs(err, errs.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestParseCheckpoint(t *testing.T) {
	h := "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
	for _, tc := range []struct {
		name, text string
		ok         bool
		size       uint64
	}{
		{"valid", "example.com/log\n7\n" + h + "\n", true, 7},
		{"size zero", "example.com/log\n0\n" + h + "\n", true, 0},
		{"extension lines", "example.com/log\n7\n" + h + "\next one\n", true, 7},
		{"no final newline", "example.com/log\n7\n" + h, false, 0},
		{"two lines", "example.com/log\n7\n", false, 0},
		{"empty origin", "\n7\n" + h + "\n", false, 0},
		{"origin with space", "example com\n7\n" + h + "\n", false, 0},
		{"leading zero", "example.com/log\n07\n" + h + "\n", false, 0},
		{"plus sign", "example.com/log\n+7\n" + h + "\n", false, 0},
		{"size overflow", "example.com/log\n18446744073709551616\n" + h + "\n", false, 0},
		{"short hash", "example.com/log\n7\nYWJj\n", false, 0},
		{"unpadded hash", "example.com/log\n7\n" + h[:43] + "\n", false, 0},
		{"empty extension line", "example.com/log\n7\n" + h + "\n\n", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp, err := ledger.ParseCheckpoint([]byte(tc.text))
			if !tc.ok {
				wantKind(t, "ParseCheckpoint", err, errs.ErrInvalidArgument)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cp.Origin != "example.com/log" || cp.Size != tc.size || len(cp.Hash) != 32 {
				t.Errorf("parsed %+v", cp)
			}
			if tc.name != "extension lines" && string(cp.Marshal()) != tc.text {
				t.Errorf("Marshal = %q, want %q", cp.Marshal(), tc.text)
			}
		})
	}
}
