package passport

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// canonSeeds are envelopes and payloads as this package writes them.
func canonSeeds(t testing.TB) (envs, events, delegations [][]byte) {
	t.Helper()
	created := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k := NewEd25519Signer(priv)
	_, priv2, _ := ed25519.GenerateKey(nil)
	k2 := NewEd25519Signer(priv2)
	inc, err := NewGuardedInception(KindHuman, "Ada", created,
		Guardianship{Guardians: []string{DIDPrefix + Digest([]byte("g1")), DIDPrefix + Digest([]byte("g2"))}, Threshold: 2, Delay: time.Hour}, k)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Replay([]*Envelope{inc}, created)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := RotateKeys(k, p, created, k2)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := RevokePassport(k, p, "lost", created)
	if err != nil {
		t.Fatal(err)
	}
	dlg, err := Delegate(k, Delegation{Issuer: p.DID, Subject: DIDPrefix + Digest([]byte("agent")), Parent: DelegationPrefix + Digest([]byte("p")),
		Scope:   Scope{Actions: []string{"invoice.*", "email.send"}, Resources: []string{"invoice:eu:*"}, Limits: map[string]float64{"amount": 100.5, "count": 1, "z": -1e-7}},
		Created: created, Expires: created.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	dlg2, err := Delegate(k, Delegation{Issuer: p.DID, Subject: DIDPrefix + Digest([]byte("agent")), Scope: Scope{Actions: []string{"*"}}, Created: created, Expires: created.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Envelope{inc, rot, rev, dlg, dlg2} {
		raw, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, raw)
	}
	return envs, [][]byte{inc.Payload, rot.Payload, rev.Payload}, [][]byte{dlg.Payload, dlg2.Payload}
}

// TestCanonicalFastPath checks that what this package writes takes the
// fast path and decodes as encoding/json decodes it.
func TestCanonicalFastPath(t *testing.T) {
	envs, events, delegations := canonSeeds(t)
	for _, raw := range envs {
		if _, ok := decodeEnvelopeCanon(raw); !ok {
			t.Errorf("envelope %s did not take the fast path", raw)
		}
		checkCanonAgrees(t, 0, raw)
	}
	for _, raw := range events {
		if _, ok := decodeEventCanon(raw); !ok {
			t.Errorf("event %s did not take the fast path", raw)
		}
		checkCanonAgrees(t, 1, raw)
	}
	for _, raw := range delegations {
		if _, ok := decodeDelegationCanon(raw); !ok {
			t.Errorf("delegation %s did not take the fast path", raw)
		}
		checkCanonAgrees(t, 2, raw)
	}
	// Inputs outside the canonical form are left to encoding/json.
	for _, raw := range []string{
		`{"payloadType":"a", "payload":"","signatures":[{"sig":""}]}`,
		`{"payloadType":"a\u0062","payload":"","signatures":[{"sig":""}]}`,
		`{"PayloadType":"a","payload":"","signatures":[{"sig":""}]}`,
		`{"payloadType":"a","payload":"","signatures":[{"sig":""}]} `,
		`{"payloadType":"a","payload":"","signatures":[]}`,
	} {
		if _, ok := decodeEnvelopeCanon([]byte(raw)); ok {
			t.Errorf("fast path accepted %s", raw)
		}
	}
}

// checkCanonAgrees fails when the fast path accepts data and decodes it
// differently from encoding/json (kind 0 envelope, 1 event, 2 delegation).
func checkCanonAgrees(t *testing.T, kind int, data []byte) {
	t.Helper()
	var fast, slow any
	var ok bool
	var err error
	switch kind {
	case 0:
		var f, s Envelope
		f, ok = decodeEnvelopeCanon(data)
		err = json.Unmarshal(data, &s)
		fast, slow = f, s
	case 1:
		var f, s event
		f, ok = decodeEventCanon(data)
		err = decodeStrict(data, &s)
		fast, slow = f, s
	default:
		var f, s delegationPayload
		f, ok = decodeDelegationCanon(data)
		err = decodeStrict(data, &s)
		fast, slow = f, s
	}
	if !ok {
		return
	}
	if err != nil {
		t.Fatalf("fast path accepted %q, encoding/json rejects it: %v", data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast path decodes %q as\n%#v\nencoding/json as\n%#v", data, fast, slow)
	}
}

// FuzzCanonicalDecoders: whatever the fast path accepts, encoding/json
// (strict where the package is strict) accepts too and decodes to the same
// value, so the fast path never changes what verifies.
func FuzzCanonicalDecoders(f *testing.F) {
	envs, events, delegations := canonSeeds(f)
	for _, raw := range envs {
		f.Add(uint8(0), raw)
	}
	for _, raw := range events {
		f.Add(uint8(1), raw)
	}
	for _, raw := range delegations {
		f.Add(uint8(2), raw)
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		checkCanonAgrees(t, int(kind%3), data)
	})
}

// FuzzEnvelopeMarshal checks that Envelope.Marshal writes exactly what
// json.Marshal writes, for any envelope (the reflection-free path or its
// fallback).
func FuzzEnvelopeMarshal(f *testing.F) {
	f.Add("application/vnd.in-toto+json", []byte(`{"a":1}`), "ed25519:abc", []byte{1, 2, 3}, 1, false)
	f.Add("x<y", []byte(nil), "", []byte(nil), 0, true)
	f.Add("é\u2028", []byte{}, "k\"id", []byte{}, 2, false)
	f.Fuzz(func(t *testing.T, typ string, payload []byte, keyID string, sig []byte, nsig int, nilSigs bool) {
		e := &Envelope{PayloadType: typ, Payload: payload}
		if !nilSigs {
			e.Signatures = []Signature{}
			for range nsig % 4 {
				e.Signatures = append(e.Signatures, Signature{KeyID: keyID, Sig: sig})
			}
		}
		got, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Marshal = %s\njson.Marshal = %s", got, want)
		}
	})
}
