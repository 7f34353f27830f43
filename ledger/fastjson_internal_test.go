package ledger

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// predicateSeeds are predicates the hand-written scanner must read exactly
// as encoding/json does, including the cases it hands back to it.
var predicateSeeds = []string{
	`{"org":"acme","agent":"did:human:a","action":"payments.send","resource":"invoice:1","attributes":{"amount":42,"x":[1,{"y":"}"}]},"status":"allowed","time":"2026-11-25T10:00:00Z"}`,
	`{}`, `null`, ` { "org" : "a" , "to" : "b" } `, `{"org":"a","org":"b"}`, `{"org":"a","org":null}`,
	`{"ORG":"x","org":"y"}`, `{"org":"y","Org":"x"}`, `{"\u006frg":"esc"}`, `{"org":"a\"b"}`, `{"org":"caf\u00e9"}`,
	`{"org":"café"}`, "{\"org\":\"\xff\"}", `{"org":5,"actor":true,"agent":["a"],"signer":{"a":"b"}}`,
	`{"time":null}`, `{"time":"bad"}`, `{"time":5}`, `{"time":"2026-01-02T03:04:05.123+02:00","time":"2026-01-02T03:04:05Z"}`,
	`{"event":{"payloadType":"x","payload":"e30=","signatures":[]},"kind":"inception"}`, `{"event":null}`, `{"event":"s"}`,
	`{"a":"\\","org":"o"}`, `{"a":"\"}","org":"o"}`, `{"ſigner":"long s","kind":"k"}`, `{"\u212aind":"kelvin"}`,
	`[1,2]`, `"s"`, `{"org":,"to":"x"}`, `{"org":}`, `{"org":"a",,}`, `{"org":"a",}`, `{"org" "a"}`, `{"org":"a"`, `{"org":"a"}x`, `{"n":-1.5e+3,"b":false,"z":null,"org":"o"}`,
}

// TestScanPredicateMatchesEncodingJSON checks the scanner field for field
// against json.Unmarshal on the seeds.
func TestScanPredicateMatchesEncodingJSON(t *testing.T) {
	for _, s := range predicateSeeds {
		checkPredicateScan(t, []byte(s))
	}
}

// FuzzPredicateScan is the differential fuzz test of the predicate scanner:
// decodePredicate (trusted-valid and untrusted paths) must give exactly
// what json.Unmarshal gives.
func FuzzPredicateScan(f *testing.F) {
	for _, s := range predicateSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkPredicateScan)
}

func checkPredicateScan(t *testing.T, raw []byte) {
	var loose predicateFields
	decodePredicate(raw, &loose, true) // must not panic, whatever raw is
	var want predicateFields
	_ = json.Unmarshal(raw, &want)
	var got predicateFields
	decodePredicate(raw, &got, false)
	if !reflect.DeepEqual(normRaw(got), normRaw(want)) {
		t.Fatalf("predicate %q:\n got %+v\nwant %+v", raw, got, want)
	}
	if json.Valid(raw) {
		var got2 predicateFields
		decodePredicate(raw, &got2, true)
		if !reflect.DeepEqual(normRaw(got2), normRaw(want)) {
			t.Fatalf("valid predicate %q:\n got %+v\nwant %+v", raw, got2, want)
		}
		st := &Statement{Type: StatementType, PredicateType: "p", Predicate: raw}
		if a, b := indexFields(st, true), IndexFields(st); !reflect.DeepEqual(a, b) {
			t.Fatalf("predicate %q: fields differ: %+v vs %+v", raw, a, b)
		}
	}
}

// normRaw maps empty raw fields to nil (encoding/json leaves them nil, the
// scanner may alias an empty slice).
func normRaw(p predicateFields) predicateFields {
	if len(p.Time) == 0 {
		p.Time = nil
	}
	if len(p.Event) == 0 {
		p.Event = nil
	}
	return p
}

// FuzzStatementEncoding checks the hand-built statement bytes against
// json.Marshal, byte for byte.
func FuzzStatementEncoding(f *testing.F) {
	f.Add("did:human:a", "sha256", "abcd", "x", "", PredicateDecision, []byte(`{"org":"acme", "a" : [1, 2]}`))
	f.Add("<&>\u2028", "sha256", "v", "sha512", "w", "p\"t", []byte(`null`))
	f.Add("\xff", "a", "", "", "", "", []byte(``))
	f.Add("n", "k", "v", "k2", "v2", "t", []byte(`{"bad"`))
	f.Add("n", "k", "v", "", "", "t", []byte(`{"html":"<a&b>\u2028", "x": 1}`))
	f.Fuzz(func(t *testing.T, name, alg, v, alg2, v2, ptype string, pred []byte) {
		digest := map[string]string{alg: v}
		if alg2 != "" {
			digest[alg2] = v2
		}
		subjects := []Subject{{Name: name, Digest: digest}, {Name: v, Digest: nil}}
		made, err := NewStatement(ptype, json.RawMessage(pred), subjects...)
		if err == nil {
			if !made.encoded() {
				t.Fatal("NewStatement's statement does not know its encoding")
			}
			want, _ := json.Marshal(made)
			if got, err := appendStatement(nil, made); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("NewStatement %+v:\n got %s (%v)\nwant %s", made, got, err, want)
			}
		}
		for _, st := range []*Statement{
			{Type: StatementType, Subject: subjects, PredicateType: ptype, Predicate: pred},
			{Type: name, Subject: nil, PredicateType: ptype, Predicate: pred},
			{Type: ptype, Subject: []Subject{}, Predicate: nil},
		} {
			want, werr := json.Marshal(st)
			got, gerr := appendStatement(nil, st)
			if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) && werr == nil {
				t.Fatalf("statement %+v:\n got %s (%v)\nwant %s (%v)", st, got, gerr, want, werr)
			}
		}
	})
}

// benchStatement is a decision attestation as Client.Call writes it.
func benchStatement(b *testing.B) *Statement {
	st, err := NewStatement(PredicateDecision, map[string]any{
		"org": "acme", "agent": "did:key:z6MkAgent", "delegation": "dlg-7f3a", "chain": []string{"dlg-7f3a"},
		"requester": "did:key:z6MkHuman", "action": "payments.send", "resource": "invoice:1",
		"attributes": map[string]any{"amount": 42.0}, "status": "allowed", "effect": "allow", "rule": "small",
		"reason": "amount under the agent's limit", "matched": []map[string]any{{"rule": "small", "effect": "allow"}},
		"policy_version": 12, "policy_digest": "9f2c1b7e4a3d5c6b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b",
		"time": "2026-01-01T00:00:00Z",
	}, SubjectFor("did:key:z6MkAgent", []byte("did:key:z6MkAgent")), SubjectFor("task-1", []byte("task")))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkIndexFields compares the predicate scanner with decoding the
// predicate with encoding/json (the baseline, what IndexFields did
// before), in the same run.
func BenchmarkIndexFields(b *testing.B) {
	st := benchStatement(b)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			indexFields(st, true)
		}
	})
	b.Run("baseline-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p predicateFields
			_ = json.Unmarshal(st.Predicate, &p)
			indexFields(&Statement{Type: st.Type, Subject: st.Subject, PredicateType: st.PredicateType, Predicate: []byte("{}")}, true)
		}
	})
}

// BenchmarkStatementEncoding compares building the statement bytes by hand
// with json.Marshal (the baseline), in the same run.
func BenchmarkStatementEncoding(b *testing.B) {
	st := benchStatement(b)
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendStatement(make([]byte, 0, 256+len(st.Predicate)), st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-json-marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(st); err != nil {
				b.Fatal(err)
			}
		}
	})
}
