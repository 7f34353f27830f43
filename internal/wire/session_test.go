package wire

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human/errs"
)

func TestSessionIDRoundTrip(t *testing.T) {
	for _, s := range []SessionID{
		{Org: "acme", Role: KeyAdmin, Subject: "ed25519:AAAA", Expires: time.Unix(1700000300, 0), Nonce: [12]byte{1, 2, 3}},
		{Org: "a.b-c_d", Role: KeyPassport, Subject: "did:human:abc.def/x", KeyFingerprint: "kid_1", Expires: time.Unix(0, 0)},
	} {
		payload, err := s.Payload()
		if err != nil {
			t.Fatal(err)
		}
		id := SessionKeyID(payload, bytes.Repeat([]byte{7}, SessionTagSize))
		kind, org, _, err := ParseKeyID(id)
		if err != nil || kind != KeySession || org != s.Org {
			t.Fatalf("ParseKeyID(%q) = %s %s %v", id, kind, org, err)
		}
		got, gotPayload, tag, err := ParseSessionID(id)
		if err != nil {
			t.Fatal(err)
		}
		if *got != s || gotPayload != payload || !bytes.Equal(tag, bytes.Repeat([]byte{7}, SessionTagSize)) {
			t.Fatalf("round trip: %+v %q, want %+v %q", got, gotPayload, s, payload)
		}
		if got.Principal() != s.Role+"/"+s.Org+"/"+s.Subject {
			t.Fatalf("principal %s", got.Principal())
		}
	}
	for name, s := range map[string]SessionID{
		"no role":    {Org: "a", Subject: "x"},
		"no subject": {Org: "a", Role: KeyAdmin},
		"slash org":  {Org: "a/b", Role: KeyAdmin, Subject: "x"},
	} {
		if _, err := s.Payload(); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSignRequestHMAC(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	r, _ := http.NewRequest("POST", "http://h/v1/humanos/decisions?x=1", nil)
	if err := SignRequestHMAC(r, []byte(`{}`), "session/acme/AA.BB", key, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	s, err := ParseSigned(r.Header, r.Method, r.URL.EscapedPath(), r.URL.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind != KeySession || s.Org != "acme" || !bytes.Equal(s.Signature, HMACSHA256(key, s.Base)) {
		t.Fatalf("parsed %+v", s)
	}
}

// FuzzParseSessionID: the session key id decoder never panics, refuses
// with ErrUnauthenticated, and what it accepts re-encodes to the same id.
func FuzzParseSessionID(f *testing.F) {
	s := SessionID{Org: "acme", Role: KeyPassport, Subject: "did:human:x", KeyFingerprint: "fp", Expires: time.Unix(1700000000, 0)}
	payload, _ := s.Payload()
	f.Add(SessionKeyID(payload, make([]byte, SessionTagSize)))
	f.Add("session/acme/AQE.AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("session//.")
	f.Add("admin/acme/ed25519:AAAA")
	f.Fuzz(func(t *testing.T, id string) {
		got, payload, tag, err := ParseSessionID(id)
		if err != nil {
			if !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
			}
			return
		}
		again, err := got.Payload()
		if err != nil {
			t.Fatalf("accepted %q, cannot re-encode %+v: %v", id, got, err)
		}
		if again != payload || SessionKeyID(again, tag) != id || !strings.HasPrefix(id, KeySession+"/"+got.Org+"/") {
			t.Fatalf("accepted %q: re-encodes to %q", id, SessionKeyID(again, tag))
		}
	})
}
