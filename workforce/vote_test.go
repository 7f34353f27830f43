package workforce_test

import (
	"errors"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

const goodDigest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestDecodeVote(t *testing.T) {
	for _, tc := range []struct {
		name, typ, payload string
		ok                 bool
	}{
		{"valid", workforce.VoteType, `{"task":"t1","digest":"` + goodDigest + `","verdict":"approve","approver":"did:h:a","created":"2030-01-01T00:00:00Z"}`, true},
		{"deny", workforce.VoteType, `{"task":"t1","digest":"` + goodDigest + `","verdict":"deny","approver":"did:h:a","created":"2030-01-01T00:00:00Z"}`, true},
		{"wrong type", "application/json", `{"task":"t1","digest":"` + goodDigest + `","verdict":"approve","approver":"a","created":"2030-01-01T00:00:00Z"}`, false},
		{"unknown verdict", workforce.VoteType, `{"task":"t1","digest":"` + goodDigest + `","verdict":"maybe","approver":"a","created":"2030-01-01T00:00:00Z"}`, false},
		{"unknown field", workforce.VoteType, `{"task":"t1","digest":"` + goodDigest + `","verdict":"approve","approver":"a","created":"2030-01-01T00:00:00Z","quorum":0}`, false},
		{"missing task", workforce.VoteType, `{"digest":"` + goodDigest + `","verdict":"approve","approver":"a","created":"2030-01-01T00:00:00Z"}`, false},
		{"missing approver", workforce.VoteType, `{"task":"t1","digest":"` + goodDigest + `","verdict":"approve","created":"2030-01-01T00:00:00Z"}`, false},
		{"missing created", workforce.VoteType, `{"task":"t1","digest":"` + goodDigest + `","verdict":"approve","approver":"a"}`, false},
		{"short digest", workforce.VoteType, `{"task":"t1","digest":"abcd","verdict":"approve","approver":"a","created":"2030-01-01T00:00:00Z"}`, false},
		{"upper-case digest", workforce.VoteType, `{"task":"t1","digest":"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08","verdict":"approve","approver":"a","created":"2030-01-01T00:00:00Z"}`, false},
		{"trailing data", workforce.VoteType, `{"task":"t1","digest":"` + goodDigest + `","verdict":"approve","approver":"a","created":"2030-01-01T00:00:00Z"}{}`, false},
		{"not json", workforce.VoteType, `approve`, false},
		{"array", workforce.VoteType, `[]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := workforce.DecodeVote(&passport.Envelope{PayloadType: tc.typ, Payload: []byte(tc.payload)})
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, errs.ErrInvalidArgument)) {
				t.Fatalf("DecodeVote = %v, want ok=%v (else ErrInvalidArgument)", err, tc.ok)
			}
		})
	}
}

func TestSignVoteRoundTrip(t *testing.T) {
	s, _ := passport.GenerateEd25519()
	tk := &workforce.Task{ID: "t1", Digest: make([]byte, 32)}
	at := time.Date(2030, 1, 1, 0, 0, 0, 5, time.FixedZone("x", 3600))
	env, err := workforce.SignVote(s, "did:h:a", tk, workforce.VerdictDeny, at)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.VerifiedBy(s.PublicKey()); err != nil {
		t.Fatal(err)
	}
	a, err := workforce.DecodeVote(env)
	if err != nil {
		t.Fatal(err)
	}
	if a.Task != "t1" || a.Verdict != "deny" || a.Approver != "did:h:a" || !a.Created.Equal(at) || a.Digest != tk.DigestHex() {
		t.Fatalf("decoded %+v", a)
	}
	if _, err := workforce.SignVote(s, "did:h:a", tk, "yes", at); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("SignVote(bad verdict) = %v", err)
	}
}

func FuzzDecodeVote(f *testing.F) {
	f.Add(workforce.VoteType, []byte(`{"task":"t1","digest":"`+goodDigest+`","verdict":"approve","approver":"did:h:a","created":"2030-01-01T00:00:00Z"}`))
	f.Add(workforce.VoteType, []byte(`{"task":"","digest":"","verdict":"","approver":"","created":""}`))
	f.Add(workforce.VoteType, []byte(`{"task":"t1","task":"t2"}`))
	f.Add("x", []byte(`null`))
	f.Add(workforce.VoteType, []byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		a, err := workforce.DecodeVote(&passport.Envelope{PayloadType: typ, Payload: payload})
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if a.Task == "" || a.Approver == "" || len(a.Digest) != 64 || (a.Verdict != "approve" && a.Verdict != "deny") {
			t.Fatalf("accepted an invalid vote: %+v", a)
		}
	})
}
