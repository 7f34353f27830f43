package passport_test

import (
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// Invariant: a cold chain verifies its Ed25519 signatures in one batch, so
// one bad signature anywhere (any passport's inception, any certificate)
// must fail the whole chain with ErrUnauthenticated, exactly as verifying
// one by one does, and nothing verified in the failed batch may be cached.
func TestAttackBatchForgedSignature(t *testing.T) {
	type row struct {
		name    string
		corrupt func(w *world, h, a1, a2, a3 party, d1, d2, d3 *passport.Delegation)
	}
	flip := func(env *passport.Envelope) *passport.Envelope {
		c := *env
		c.Signatures = append([]passport.Signature(nil), env.Signatures...)
		sig := append([]byte(nil), c.Signatures[0].Sig...)
		sig[10] ^= 1
		c.Signatures[0].Sig = sig
		return &c
	}
	// S + L: the same signature to a cofactorless verifier that forgets
	// the S < L check; ZIP-215 rejects it in single and batch mode.
	malleate := func(env *passport.Envelope) *passport.Envelope {
		c := *env
		c.Signatures = append([]passport.Signature(nil), env.Signatures...)
		sig := append([]byte(nil), c.Signatures[0].Sig...)
		var carry uint16
		for i, l := range []byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10} {
			v := uint16(sig[32+i]) + uint16(l) + carry
			sig[32+i], carry = byte(v), v>>8
		}
		c.Signatures[0].Sig = sig
		return &c
	}
	putEvent := func(w *world, p party, env *passport.Envelope) {
		raw, _ := env.Marshal()
		w.store.events[org+"|"+p.p.DID][0] = raw
		w.store.gen[org]++
	}
	putDlg := func(w *world, d *passport.Delegation, env *passport.Envelope) {
		raw, _ := env.Marshal()
		w.store.dlg[org+"|"+d.ID] = raw
		w.store.gen[org]++
	}
	var rows []row
	for i, name := range []string{"human", "agent1", "agent2", "agent3"} {
		rows = append(rows, row{name + " inception", func(w *world, h, a1, a2, a3 party, _, _, _ *passport.Delegation) {
			p := []party{h, a1, a2, a3}[i]
			putEvent(w, p, flip(p.p.Events[0]))
		}})
	}
	for i, name := range []string{"d1", "d2", "d3"} {
		rows = append(rows, row{name + " certificate", func(w *world, _, _, _, _ party, d1, d2, d3 *passport.Delegation) {
			d := []*passport.Delegation{d1, d2, d3}[i]
			putDlg(w, d, flip(d.Envelope))
		}})
		rows = append(rows, row{name + " certificate, S+L", func(w *world, _, _, _, _ party, d1, d2, d3 *passport.Delegation) {
			d := []*passport.Delegation{d1, d2, d3}[i]
			putDlg(w, d, malleate(d.Envelope))
		}})
	}
	rows = append(rows, row{"agent2 inception, S+L", func(w *world, _, _, a2, _ party, _, _, _ *passport.Delegation) {
		putEvent(w, a2, malleate(a2.p.Events[0]))
	}})
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			w := newWorld(t)
			h, a1, a2, a3, d1, d2, d3 := w.chain3()
			r.corrupt(w, h, a1, a2, a3, d1, d2, d3)
			// A cold registry (batch) and the warm one (whose caches
			// must notice the changed row) both fail.
			cold := passport.NewRegistry(w.store, nil, func() time.Time { return w.now })
			for _, reg := range []*passport.Registry{cold, w.reg} {
				_, err := reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID)
				wantErr(t, err, errs.ErrUnauthenticated)
				// Asking again gives the same answer: nothing from the
				// failed batch was cached as verified.
				_, err = reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID)
				wantErr(t, err, errs.ErrUnauthenticated)
			}
		})
	}
	// The untouched chain verifies cold, and twice (from the caches the
	// batch filled).
	w := newWorld(t)
	_, _, _, a3, _, _, d3 := w.chain3()
	cold := passport.NewRegistry(w.store, nil, func() time.Time { return w.now })
	for range 2 {
		if _, err := cold.VerifyChain(w.ctx, org, a3.p.DID, d3.ID); err != nil {
			t.Fatal(err)
		}
	}
}
