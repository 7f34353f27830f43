package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// fuzzSeeds builds genuine receipts and attestations to seed the fuzzers.
func fuzzSeeds(f *testing.F) (receipts [][]byte, entries [][]byte, checkpoints [][]byte) {
	l, _ := newMemLog(f)
	st, err := ledger.NewStatement(ledger.PredicateDecision, map[string]string{"effect": "allow"}, ledger.SubjectFor("req", []byte("1")))
	if err != nil {
		f.Fatal(err)
	}
	p, err := l.Attest(context.Background(), st)
	if err != nil {
		f.Fatal(err)
	}
	r0, err := p.Wait(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	rs := append([]*ledger.Receipt{r0}, mustAppend(f, l, "a", "", "c")...)
	for _, r := range rs {
		text, err := r.MarshalText()
		if err != nil {
			f.Fatal(err)
		}
		receipts = append(receipts, text)
		entries = append(entries, r.Entry)
		checkpoints = append(checkpoints, checkpointText(r.Checkpoint))
	}
	return receipts, entries, checkpoints
}

func FuzzParseReceipt(f *testing.F) {
	receipts, _, _ := fuzzSeeds(f)
	for _, r := range receipts {
		f.Add(r)
	}
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\n"))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra \nindex 0\n\nx"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ledger.ParseReceipt(data)
		if err != nil {
			return
		}
		text, err := r.MarshalText()
		if err != nil {
			t.Fatalf("a parsed receipt does not encode: %v", err)
		}
		again, err := ledger.ParseReceipt(text)
		if err != nil {
			t.Fatalf("re-encoded receipt does not parse: %v", err)
		}
		if again.Index != r.Index || !bytes.Equal(again.Entry, r.Entry) || !bytes.Equal(again.Checkpoint, r.Checkpoint) || !sameHashes(again.Proof, r.Proof) {
			t.Fatalf("round trip changed the receipt")
		}
		_ = ledger.VerifyReceipt(r, nil) // must not panic
	})
}

func FuzzParseAttestation(f *testing.F) {
	_, entries, _ := fuzzSeeds(f)
	for _, e := range entries {
		f.Add(e)
	}
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, st, err := ledger.ParseAttestation(data)
		if err != nil {
			return
		}
		if env.PayloadType != ledger.PayloadType || st.Type != ledger.StatementType || len(st.Subject) == 0 {
			t.Fatalf("accepted a malformed attestation: %+v %+v", env, st)
		}
		_ = env.VerifiedBy(passport.PublicKey{Suite: passport.SuiteEd25519, Key: make([]byte, 32)})
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	_, _, cps := fuzzSeeds(f)
	for _, c := range cps {
		f.Add(c)
	}
	f.Add([]byte("example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cp, err := ledger.ParseCheckpoint(data)
		if err != nil {
			return
		}
		again, err := ledger.ParseCheckpoint(cp.Marshal())
		if err != nil {
			t.Fatalf("re-encoded checkpoint does not parse: %v", err)
		}
		if again.Origin != cp.Origin || again.Size != cp.Size || !bytes.Equal(again.Hash, cp.Hash) {
			t.Fatal("round trip changed the checkpoint")
		}
		if !bytes.HasPrefix(data, cp.Marshal()) {
			t.Fatal("the parsed fields are not the text's first three lines")
		}
	})
}

func FuzzParseEntryBundle(f *testing.F) {
	f.Add([]byte("\x00\x02ab\x00\x00\x00\x01c"), 3)
	f.Add([]byte("\x00\x05ab"), 1)
	f.Add([]byte{}, 1)
	f.Fuzz(func(t *testing.T, data []byte, width int) {
		entries, err := ledger.ParseEntryBundle(data, width)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		// A bundle that parses re-encodes to the same bytes.
		again, err := ledger.AppendEntryBundle(nil, entries...)
		if err != nil || !bytes.Equal(again, data) || len(entries) != width {
			t.Fatalf("round trip: %q -> %d entries -> %q, %v", data, len(entries), again, err)
		}
	})
}
