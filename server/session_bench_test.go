package server

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
)

// BenchmarkAuthenticate compares the server's cost to authenticate one
// request (a governed call's POST) signed with the org admin's Ed25519 key
// against one signed with hmac-sha256 under a session the admin opened:
// parsing, the created window, the digest, the key or session checks, the
// principal lookup and the nonce cache. The server has a previous session
// secret, as during a rotation: hmac-session is a session under the
// current secret (the cost before rotation existed), hmac-session-previous
// one under the previous secret (one more tag to compute).
//
//	go test -run '^$' -bench Authenticate -benchtime 20000x ./server/
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	key, err := passport.GenerateEd25519()
	if err != nil {
		b.Fatal(err)
	}
	admins := map[string][]passport.PublicKey{"bench": {key.PublicKey()}}
	prev, cur := bytes.Repeat([]byte("p"), MinSessionSecret), bytes.Repeat([]byte("c"), MinSessionSecret)
	open := func(current []byte, previous ...[]byte) (*Server, wire.Session) {
		s, err := New(ctx, Config{Library: human.Config{Store: "mem://", DataDir: b.TempDir()}, Admins: admins,
			SessionSecret: current, PreviousSessionSecrets: previous})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		_, out, err := s.openSession(ctx, &request{p: &principal{org: "bench", role: roleAdmin, subject: key.PublicKey().String()}})
		if err != nil {
			b.Fatal(err)
		}
		return s, out.(wire.Session)
	}
	_, prevSess := open(prev)
	s, sess := open(cur, prev)
	body := []byte(`{"agent":"did:human:agent","delegation":"dlg_x","action":"docs.read","resource":"doc:1"}`)
	keyID := wire.AdminKeyID("bench", key.PublicKey())
	for _, bc := range []struct {
		name string
		sign func(r *http.Request) error
	}{
		{"ed25519-signature", func(r *http.Request) error { return wire.SignRequest(r, body, keyID, key, time.Now()) }},
		{"hmac-session", func(r *http.Request) error { return wire.SignRequestHMAC(r, body, sess.KeyID, sess.Key, time.Now()) }},
		{"hmac-session-previous", func(r *http.Request) error {
			return wire.SignRequestHMAC(r, body, prevSess.KeyID, prevSess.Key, time.Now())
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// Signed ahead in batches (signing is the client's cost); each
			// request is authenticated once, so no nonce repeats.
			const batch = 4096
			reqs := make([]*http.Request, batch)
			sign := func() {
				for i := range reqs {
					r, _ := http.NewRequest(http.MethodPost, "http://h/v1/humanos/decisions", nil)
					if err := bc.sign(r); err != nil {
						b.Fatal(err)
					}
					reqs[i] = r
				}
			}
			b.StopTimer()
			sign()
			b.StartTimer()
			for i := 0; i < b.N; i++ {
				if i > 0 && i%batch == 0 {
					b.StopTimer()
					sign()
					s.nonces = newNonceCache(1 << 20)
					b.StartTimer()
				}
				if _, err := s.authenticate(ctx, reqs[i%batch], body, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
