package remote

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
)

// sessionState is an open session: its key id and key, and (on the
// client's clock) when to start renewing it and when to stop using it.
type sessionState struct {
	keyID string
	key   []byte
	renew time.Time
	end   time.Time
	seq   uint64 // the sessionOpen.seq that opened it
}

// sessionOpen is one POST /v1/sessions in flight; every caller that needs
// a session meanwhile waits for it.
type sessionOpen struct {
	done chan struct{}
	seq  uint64 // order in which opens started
	s    *sessionState
	err  error
}

// sessions is a Client's session: at most one open in flight.
type sessions struct {
	mu      sync.Mutex
	cur     *sessionState
	opening *sessionOpen
	off     atomic.Bool // the server has no /v1/sessions: sign with the key
	// seq numbers the opens; minSeq is the first whose session may be
	// used: a refused session moves it past every open started before the
	// refusal, since those may be as stale (expired on the server's clock,
	// or keyed by a secret the server no longer has).
	seq, minSeq uint64
}

// session returns the session to sign with, opening or renewing it as
// needed, or nil to sign with the key (KeySignatures, or a server without
// sessions). While a renewal is in flight the current session is used
// until its end.
func (c *Client) session(ctx context.Context) (*sessionState, error) {
	if c.keyOnly || c.sess.off.Load() {
		return nil, nil
	}
	for {
		now := c.now()
		c.sess.mu.Lock()
		cur := c.sess.cur
		if cur != nil && now.Before(cur.renew) {
			c.sess.mu.Unlock()
			return cur, nil
		}
		o := c.sess.opening
		if o == nil {
			c.sess.seq++
			o = &sessionOpen{done: make(chan struct{}), seq: c.sess.seq}
			c.sess.opening = o
			go c.openSession(o)
		}
		stale := o.seq < c.sess.minSeq
		c.sess.mu.Unlock()
		if cur != nil && now.Before(cur.end) {
			return cur, nil
		}
		select {
		case <-o.done:
		case <-ctx.Done():
			return nil, errs.Errorf(errs.ErrUnavailable, "remote: opening a session: %w", ctx.Err())
		}
		if !stale || o.err != nil || o.s == nil {
			return o.s, o.err
		}
		// That open started before a refusal: open another.
	}
}

// openSession runs one POST /v1/sessions, signed with the key, on its own
// timeout (a caller that gives up does not cancel it for the others).
func (c *Client) openSession(o *sessionOpen) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	u := *c.base
	u.Path = strings.TrimSuffix(c.base.Path, "/") + "/v1/sessions"
	start := c.now()
	var out wire.Session
	status, _, err := c.send(ctx, http.MethodPost, &u, nil, &out, 0, nil)
	switch {
	case status == http.StatusNotFound:
		c.sess.off.Store(true) // an older server: sign each request with the key
		o.err = nil
	case err != nil:
		o.err = err
	case out.KeyID == "" || len(out.Key) < 16 || out.TTLSeconds <= 0:
		o.err = errs.Errorf(errs.ErrUnavailable, "remote: the server answered POST /v1/sessions without a usable session")
	default:
		ttl := time.Duration(out.TTLSeconds) * time.Second
		o.s = &sessionState{keyID: out.KeyID, key: out.Key,
			renew: start.Add(ttl * 4 / 5), end: start.Add(ttl - min(ttl/10, 5*time.Second))}
	}
	c.sess.mu.Lock()
	if o.s != nil {
		o.s.seq = o.seq
		if o.seq >= c.sess.minSeq {
			c.sess.cur = o.s
		}
	}
	c.sess.opening = nil
	c.sess.mu.Unlock()
	close(o.done)
}

// dropSession forgets the session the server just refused, with every
// session opened (or being opened) before the refusal, so the next request
// opens a new one.
func (c *Client) dropSession() {
	c.sess.mu.Lock()
	// No session whose open started before this point is used again.
	c.sess.minSeq = c.sess.seq + 1
	if c.sess.cur != nil && c.sess.cur.seq < c.sess.minSeq {
		c.sess.cur = nil
	}
	c.sess.mu.Unlock()
}

// SignRequest signs req, whose body the caller sends as body, exactly as
// the client signs its own requests: with the session (opening one if
// needed) or, without sessions, with the key. It is for load generators
// and tools that send their own requests. A signature is accepted once (a
// fresh nonce each call); a session refused later (session_expired,
// unknown_session) is renewed only by the client's own requests, so such a
// tool should treat those codes as a cue to call ResetSession.
func (c *Client) SignRequest(ctx context.Context, req *http.Request, body []byte) error {
	st, err := c.session(ctx)
	if err != nil {
		return err
	}
	if st != nil {
		return wire.SignRequestHMAC(req, body, st.keyID, st.key, c.now())
	}
	return wire.SignRequest(req, body, c.keyID, c.signer, c.now())
}

// ResetSession forgets the current session; the next request opens a new one.
func (c *Client) ResetSession() { c.dropSession() }
