package passport_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sealEvent signs an arbitrary event payload, for building logs a correct
// client would never produce.
func sealEvent(t testing.TB, fields map[string]any, signers ...passport.Signer) *passport.Envelope {
	t.Helper()
	payload, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	env, err := passport.Seal(passport.EventPayloadType, payload, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func mustInception(t testing.TB, kind passport.Kind, created time.Time, signers ...passport.Signer) (*passport.Envelope, *passport.Passport) {
	t.Helper()
	env, err := passport.NewInception(kind, "test "+string(kind), created, signers...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := passport.Replay([]*passport.Envelope{env}, created)
	if err != nil {
		t.Fatal(err)
	}
	return env, p
}

func TestNewInceptionSelfCertifyingDID(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	env, p := mustInception(t, passport.KindHuman, t0, k1, k2)
	if p.DID != passport.DIDPrefix+passport.Digest(env.Payload) || !passport.ValidDID(p.DID) {
		t.Fatalf("DID %s is not derived from the inception payload", p.DID)
	}
	if p.Kind != passport.KindHuman || len(p.Keys) != 2 || !p.HasKey(k1.PublicKey()) || !p.HasKey(k2.PublicKey()) || p.Revoked {
		t.Fatalf("unexpected state %+v", p)
	}
	if !p.Created.Equal(t0) || p.Name != "test human" {
		t.Fatalf("created %v name %q", p.Created, p.Name)
	}
	for _, bad := range []struct {
		kind    passport.Kind
		signers []passport.Signer
	}{{"robot", []passport.Signer{k1}}, {passport.KindHuman, nil}, {passport.KindHuman, []passport.Signer{k1, k1}}} {
		if _, err := passport.NewInception(bad.kind, "", t0, bad.signers...); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("NewInception(%q, %d signers) = %v, want ErrInvalidArgument", bad.kind, len(bad.signers), err)
		}
	}
}

func TestRotationKeepsDID(t *testing.T) {
	old, next := mustKey(t), mustKey(t)
	inc, p := mustInception(t, passport.KindHuman, t0, old)
	rot, err := passport.RotateKeys(old, p, t0.Add(time.Hour), next)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := passport.Replay([]*passport.Envelope{inc, rot}, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p2.DID != p.DID || p2.HasKey(old.PublicKey()) || !p2.HasKey(next.PublicKey()) {
		t.Fatalf("after rotation: DID %s (was %s), keys %v", p2.DID, p.DID, p2.Keys)
	}
	rev, err := passport.RevokePassport(next, p2, "lost", t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p3, err := passport.Replay([]*passport.Envelope{inc, rot, rev}, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !p3.Revoked || !p3.RevokedAt.Equal(t0.Add(3*time.Hour)) || len(p3.Events) != 3 {
		t.Fatalf("after revocation: %+v", p3)
	}
}

func TestReplay(t *testing.T) {
	k, k2, stranger := mustKey(t), mustKey(t), mustKey(t)
	inc, p := mustInception(t, passport.KindHuman, t0, k)
	prev := passport.Digest(inc.Payload)
	at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
	follow := func(typ string, seq int, created string, extra map[string]any) map[string]any {
		m := map[string]any{"type": typ, "did": p.DID, "seq": seq, "prev": prev, "created": created}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	rotation := sealEvent(t, follow("rotation", 1, at(time.Minute), map[string]any{"keys": []passport.PublicKey{k2.PublicKey()}}), k, k2)
	revoked := sealEvent(t, follow("revocation", 1, at(time.Minute), nil), k)
	rotPrev := passport.Digest(rotation.Payload)
	revPrev := passport.Digest(revoked.Payload)
	twoKeys, _ := passport.NewInception(passport.KindHuman, "", t0, k, k2)
	twoKeys.Signatures = twoKeys.Signatures[:1]
	unsignedInc, _ := passport.NewInception(passport.KindAgent, "", t0, k)
	unsignedInc.Signatures = nil

	tests := []struct {
		name   string
		events []*passport.Envelope
		want   error // nil: verifies
	}{
		{"inception", []*passport.Envelope{inc}, nil},
		{"rotation", []*passport.Envelope{inc, rotation}, nil},
		{"revocation", []*passport.Envelope{inc, revoked}, nil},
		{"same instant is not back-dated", []*passport.Envelope{inc, sealEvent(t, follow("revocation", 1, at(0), nil), k)}, nil},
		{"empty log", nil, errs.ErrInvalidArgument},
		{"inception missing a declared key's signature", []*passport.Envelope{twoKeys}, errs.ErrUnauthenticated},
		{"inception without signatures", []*passport.Envelope{unsignedInc}, errs.ErrUnauthenticated},
		{"inception signed by another key only", []*passport.Envelope{sealEvent(t, map[string]any{"type": "inception", "kind": "human", "keys": []passport.PublicKey{k.PublicKey()}, "created": at(0)}, stranger)}, errs.ErrUnauthenticated},
		{"log starts with a revocation", []*passport.Envelope{revoked}, errs.ErrInvalidArgument},
		{"second inception", []*passport.Envelope{inc, inc}, errs.ErrInvalidArgument},
		{"event signed by a stranger", []*passport.Envelope{inc, sealEvent(t, follow("revocation", 1, at(time.Minute), nil), stranger)}, errs.ErrUnauthenticated},
		{"unsigned event", []*passport.Envelope{inc, sealEvent(t, follow("revocation", 1, at(time.Minute), nil))}, errs.ErrUnauthenticated},
		{"rotation not signed by the new key", []*passport.Envelope{inc, sealEvent(t, follow("rotation", 1, at(time.Minute), map[string]any{"keys": []passport.PublicKey{k2.PublicKey()}}), k)}, errs.ErrUnauthenticated},
		{"rotation not signed by the current key", []*passport.Envelope{inc, sealEvent(t, follow("rotation", 1, at(time.Minute), map[string]any{"keys": []passport.PublicKey{k2.PublicKey()}}), k2)}, errs.ErrUnauthenticated},
		{"old key after rotation", []*passport.Envelope{inc, rotation, sealEvent(t, map[string]any{"type": "revocation", "did": p.DID, "seq": 2, "prev": rotPrev, "created": at(time.Hour)}, k)}, errs.ErrUnauthenticated},
		{"seq skips", []*passport.Envelope{inc, sealEvent(t, follow("revocation", 2, at(time.Minute), nil), k)}, errs.ErrInvalidArgument},
		{"prev names another event", []*passport.Envelope{inc, sealEvent(t, map[string]any{"type": "revocation", "did": p.DID, "seq": 1, "prev": passport.Digest([]byte("x")), "created": at(time.Minute)}, k)}, errs.ErrInvalidArgument},
		{"back-dated", []*passport.Envelope{inc, sealEvent(t, follow("revocation", 1, at(-time.Second), nil), k)}, errs.ErrInvalidArgument},
		{"future-dated", []*passport.Envelope{inc, sealEvent(t, follow("revocation", 1, at(24*time.Hour), nil), k)}, errs.ErrInvalidArgument},
		{"other passport's DID", []*passport.Envelope{inc, sealEvent(t, map[string]any{"type": "revocation", "did": passport.DIDPrefix + passport.Digest([]byte("x")), "seq": 1, "prev": prev, "created": at(time.Minute)}, k)}, errs.ErrInvalidArgument},
		{"event after revocation", []*passport.Envelope{inc, revoked, sealEvent(t, map[string]any{"type": "revocation", "did": p.DID, "seq": 2, "prev": revPrev, "created": at(time.Hour)}, k)}, errs.ErrFailedPrecondition},
		{"unknown type", []*passport.Envelope{inc, sealEvent(t, follow("device_renamed", 1, at(time.Minute), nil), k)}, errs.ErrInvalidArgument},
		{"unknown field", []*passport.Envelope{inc, sealEvent(t, follow("revocation", 1, at(time.Minute), map[string]any{"admin": true}), k)}, errs.ErrInvalidArgument},
		{"field foreign to the type", []*passport.Envelope{inc, sealEvent(t, follow("revocation", 1, at(time.Minute), map[string]any{"kind": "org"}), k)}, errs.ErrInvalidArgument},
		{"wrong payload type", []*passport.Envelope{{PayloadType: "text/plain", Payload: inc.Payload, Signatures: inc.Signatures}}, errs.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := passport.Replay(tc.events, t0.Add(time.Hour))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("does not verify: %v", err)
				}
				if got.DID != p.DID {
					t.Fatalf("DID %s, want %s", got.DID, p.DID)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzReplay(f *testing.F) {
	k, _ := passport.GenerateEd25519()
	inc, _ := passport.NewInception(passport.KindHuman, "fuzz", t0, k)
	p, _ := passport.Replay([]*passport.Envelope{inc}, t0)
	rev, _ := passport.RevokePassport(k, p, "r", t0.Add(time.Minute))
	incRaw, _ := inc.Marshal()
	revRaw, _ := rev.Marshal()
	f.Add(incRaw, revRaw)
	f.Add(incRaw, []byte(`{}`))
	f.Add([]byte(`{"payloadType":"application/vnd.humanos.passport-event+json","payload":"e30=","signatures":[{"sig":""}]}`), []byte(nil))
	f.Add(revRaw, incRaw)
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var events []*passport.Envelope
		for _, raw := range [][]byte{first, second} {
			if len(raw) == 0 {
				continue
			}
			env, err := passport.ParseEnvelope(raw)
			if err != nil {
				return
			}
			events = append(events, env)
		}
		got, err := passport.Replay(events, t0.Add(time.Hour))
		if err != nil {
			if errs.Kind(err) == nil {
				t.Fatalf("error outside the vocabulary: %v", err)
			}
			return
		}
		if !passport.ValidDID(got.DID) || len(got.Keys) == 0 {
			t.Fatalf("verified a passport with DID %q and %d keys", got.DID, len(got.Keys))
		}
	})
}
