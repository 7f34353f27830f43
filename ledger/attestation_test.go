package ledger_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

func TestAttestRoundTrip(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	st, err := ledger.NewStatement(ledger.PredicateApproval,
		map[string]any{"task": "t-1", "approver": "did:human:alice", "decision": "approve"},
		ledger.SubjectFor("task", []byte("t-1")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Attest(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env, got, err := ledger.ParseAttestation(r.Entry)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.VerifiedBy(l.PublicKey()); err != nil {
		t.Errorf("attestation not signed by the org key: %v", err)
	}
	if got.Type != ledger.StatementType || got.PredicateType != ledger.PredicateApproval ||
		got.Subject[0].Name != "task" || got.Subject[0].Digest["sha256"] != st.Subject[0].Digest["sha256"] {
		t.Errorf("statement = %+v", got)
	}
	var pred map[string]string
	if err := json.Unmarshal(got.Predicate, &pred); err != nil || pred["approver"] != "did:human:alice" {
		t.Errorf("predicate = %s, %v", got.Predicate, err)
	}
	if s := ledger.SubjectFor("x", []byte("hello world")); s.Digest["sha256"] != "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9" {
		t.Errorf("SubjectFor digest = %s", s.Digest["sha256"])
	}
}

func TestNewStatementInvalid(t *testing.T) {
	sub := ledger.SubjectFor("x", []byte("x"))
	for _, tc := range []struct {
		name      string
		predType  string
		predicate any
		subjects  []ledger.Subject
	}{
		{"no predicate type", "", map[string]string{}, []ledger.Subject{sub}},
		{"no subject", ledger.PredicateDecision, map[string]string{}, nil},
		{"subject without digest", ledger.PredicateDecision, map[string]string{}, []ledger.Subject{{Name: "x"}}},
		{"empty digest value", ledger.PredicateDecision, map[string]string{}, []ledger.Subject{{Name: "x", Digest: map[string]string{"sha256": ""}}}},
		{"predicate not an object", ledger.PredicateDecision, []int{1, 2}, []ledger.Subject{sub}},
		{"predicate not encodable", ledger.PredicateDecision, func() {}, []ledger.Subject{sub}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ledger.NewStatement(tc.predType, tc.predicate, tc.subjects...)
			wantKind(t, "NewStatement", err, errs.ErrInvalidArgument)
		})
	}
	l, _ := newMemLog(t)
	_, err := l.Attest(context.Background(), nil)
	wantKind(t, "Attest(nil)", err, errs.ErrInvalidArgument)
	_, err = l.Attest(context.Background(), &ledger.Statement{Type: "other", PredicateType: "p", Subject: []ledger.Subject{sub}})
	wantKind(t, "Attest of a non in-toto statement", err, errs.ErrInvalidArgument)
}

func TestParseAttestationRejects(t *testing.T) {
	signer := newSigner(t)
	seal := func(typ, payload string) []byte {
		env, err := passport.Seal(typ, []byte(payload), signer)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := env.Marshal()
		return b
	}
	good := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"ab"}}],"predicateType":"p","predicate":{}}`
	if _, _, err := ledger.ParseAttestation(seal(ledger.PayloadType, good)); err != nil {
		t.Fatalf("good attestation: %v", err)
	}
	for name, entry := range map[string][]byte{
		"not json":          []byte("nope"),
		"other type":        seal("application/json", good),
		"payload not json":  seal(ledger.PayloadType, "{"),
		"wrong _type":       seal(ledger.PayloadType, `{"_type":"x","subject":[{"name":"x","digest":{"sha256":"ab"}}],"predicateType":"p"}`),
		"no subject":        seal(ledger.PayloadType, `{"_type":"https://in-toto.io/Statement/v1","predicateType":"p"}`),
		"unsigned envelope": []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`),
	} {
		if _, _, err := ledger.ParseAttestation(entry); !errsIs(err, errs.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
}
