package passport_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// TestPAEVector is the example from the DSSE specification (protocol.md).
func TestPAEVector(t *testing.T) {
	got := passport.PAE("http://example.com/HelloWorld", []byte("hello world"))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if string(got) != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	k := mustKey(t)
	other := mustKey(t)
	env, err := passport.Seal("application/x-test", []byte("payload"), k)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := passport.ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.VerifiedBy(k.PublicKey()); err != nil {
		t.Fatalf("round-tripped envelope does not verify: %v", err)
	}
	if err := back.VerifiedBy(other.PublicKey()); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("verified by a key that never signed: %v", err)
	}
	back.Payload = append(back.Payload, '!')
	if err := back.VerifiedBy(k.PublicKey()); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("changed payload still verifies: %v", err)
	}
}

func TestParseEnvelopeRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `{`,
		"no type":       `{"payload":"","signatures":[{"sig":""}]}`,
		"no signatures": `{"payloadType":"t","payload":""}`,
		"bad base64":    `{"payloadType":"t","payload":"!!","signatures":[{"sig":""}]}`,
	} {
		if _, err := passport.ParseEnvelope([]byte(in)); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("%s: got %v, want ErrInvalidArgument", name, err)
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	k, _ := passport.GenerateEd25519()
	env, _ := passport.Seal("application/x-test", []byte("hello"), k)
	raw, _ := env.Marshal()
	f.Add(raw)
	f.Add([]byte(`{"payloadType":"t","payload":"aGk=","signatures":[{"keyid":"x","sig":"AA=="}]}`))
	f.Add([]byte(`{"payloadType":"","signatures":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := passport.ParseEnvelope(data)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("error without ErrInvalidArgument: %v", err)
			}
			return
		}
		if e.PayloadType == "" || len(e.Signatures) == 0 {
			t.Fatal("accepted an envelope without type or signatures")
		}
		// Verification of arbitrary input must not panic and must fail.
		if e.VerifiedBy(k.PublicKey()) == nil && !bytes.Equal(e.Payload, env.Payload) {
			t.Fatal("arbitrary envelope verified")
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := passport.ParseEnvelope(out); err != nil {
			t.Fatalf("re-encoded envelope does not parse: %v", err)
		}
	})
}

func mustKey(t testing.TB) *passport.Ed25519Signer {
	t.Helper()
	k, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
