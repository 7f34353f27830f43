package wire

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

func TestSignParseVerify(t *testing.T) {
	key, _ := passport.GenerateEd25519()
	kid := AdminKeyID("acme", key.PublicKey())
	for _, tc := range []struct{ method, url string }{
		{"POST", "http://h/v1/humanos/decisions"},
		{"GET", "http://h/v1/attestations/proofs/consistency?old=1&new=2"},
		{"GET", "http://h/v1/passport/did:human:abc"},
	} {
		body := []byte(`{"a":1}`)
		r, _ := http.NewRequest(tc.method, tc.url, nil)
		if err := SignRequest(r, body, kid, key, time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
		s, err := ParseSigned(r.Header, r.Method, r.URL.EscapedPath(), r.URL.RawQuery)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.url, err)
		}
		if s.Kind != KeyAdmin || s.Org != "acme" || s.Created.Unix() != 1700000000 || len(s.Nonce) < 16 {
			t.Fatalf("parsed %+v", s)
		}
		if err := key.PublicKey().Verify(s.Base, s.Signature); err != nil {
			t.Fatalf("signature does not verify over the parsed base: %v", err)
		}
		// Another method or path changes the base.
		s2, _ := ParseSigned(r.Header, "DELETE", r.URL.EscapedPath(), r.URL.RawQuery)
		if key.PublicKey().Verify(s2.Base, s.Signature) == nil {
			t.Fatal("signature verifies for another method")
		}
	}
}

func TestParseSignedRefuses(t *testing.T) {
	key, _ := passport.GenerateEd25519()
	r, _ := http.NewRequest("GET", "http://h/x", nil)
	_ = SignRequest(r, nil, PassportKeyID("acme", "did:human:x"), key, time.Now())
	good := r.Header.Clone()
	for name, mutate := range map[string]func(h http.Header){
		"no signature": func(h http.Header) { h.Del("Signature") },
		"two inputs":   func(h http.Header) { h.Add("Signature-Input", h.Get("Signature-Input")) },
		"other components": func(h http.Header) {
			h.Set("Signature-Input", strings.Replace(h.Get("Signature-Input"), `"@query" `, "", 1))
		},
		"extra parameter": func(h http.Header) { h.Set("Signature-Input", h.Get("Signature-Input")+`;alg="ed25519"`) },
		"negative created": func(h http.Header) {
			h.Set("Signature-Input", strings.Replace(h.Get("Signature-Input"), "created=", "created=-", 1))
		},
		"bad keyid": func(h http.Header) {
			h.Set("Signature-Input", strings.Replace(h.Get("Signature-Input"), "passport/", "root/", 1))
		},
		"digest not sha256": func(h http.Header) { h.Set("Content-Digest", "sha-512=:AAAA:") },
		"signature not b64": func(h http.Header) { h.Set("Signature", "sig1=:!!:") },
	} {
		h := good.Clone()
		mutate(h)
		if _, err := ParseSigned(h, "GET", "/x", ""); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", name, err)
		}
	}
}

func TestProblemRoundTrip(t *testing.T) {
	for _, kind := range []error{errs.ErrNotFound, errs.ErrConflict, errs.ErrInvalidArgument, errs.ErrUnauthenticated,
		errs.ErrPermissionDenied, errs.ErrFailedPrecondition, errs.ErrUnavailable} {
		p := ProblemFromError(errs.Errorf(kind, "thing"))
		if !errors.Is(p.Err(), kind) {
			t.Errorf("%v: round trip gave %v", kind, p.Err())
		}
		if c := NewCause(errs.Errorf(kind, "x")); !errors.Is(c.Err(), kind) {
			t.Errorf("%v: cause round trip gave %v", kind, c.Err())
		}
	}
	for _, code := range Codes() {
		p := NewProblem(code, "d")
		if p.Status < 400 || KindOf(code, 0) == nil {
			t.Errorf("code %s: status %d", code, p.Status)
		}
	}
}

// FuzzParseSigned: the signature parser never panics and accepts only
// the profile's exact shape.
func FuzzParseSigned(f *testing.F) {
	key, _ := passport.GenerateEd25519()
	r, _ := http.NewRequest("GET", "http://h/x", nil)
	_ = SignRequest(r, nil, AdminKeyID("acme", key.PublicKey()), key, time.Now())
	f.Add(r.Header.Get("Signature-Input"), r.Header.Get("Signature"), r.Header.Get("Content-Digest"))
	f.Add(`sig1=("@method");created=1`, "sig1=::", "sha-256=::")
	f.Add(`sig1=("@method" "@path" "@query" "content-digest");created=1;nonce="\"";keyid="a/b/c"`, "sig1=:AA==:", "")
	f.Fuzz(func(t *testing.T, in, sig, digest string) {
		h := http.Header{}
		h.Set("Signature-Input", in)
		h.Set("Signature", sig)
		h.Set("Content-Digest", digest)
		s, err := ParseSigned(h, "GET", "/x", "")
		if err != nil {
			if !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
			}
			return
		}
		if !strings.HasPrefix(in, SigLabel+"="+SigComponents) || len(s.Digest) != 32 || s.KeyID == "" {
			t.Fatalf("accepted %q", in)
		}
	})
}
