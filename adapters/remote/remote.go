// Package remote is the HTTP client of a HUMAN server: with HUMAN_BASE_URL
// set, package human sends every Client method through it, so an app runs
// unchanged against a hosted, hybrid or self-hosted server.
//
// Every request is signed with HTTP Message Signatures (RFC 9421) by the
// caller's key: the org's admin credential (AdminKeyID) or a passport's
// key (PassportKeyID). The server takes the org from that key id alone.
// To spare the server a public-key verification per request, the client
// opens a short-lived session (POST /v1/sessions, signed with the key) on
// first use and signs later requests with HMAC-SHA256 under the session
// key; it renews the session before it expires, opens a new one once when
// the server answers session_expired or unknown_session (a restart or a
// changed secret), and signs with the key when the server has no sessions.
// Options.KeySignatures turns sessions off.
//
// Each method makes one round trip (a governed call is one POST). Requests
// have a timeout; idempotent ones (GET) are retried with exponential
// backoff and jitter when the server is unavailable or rate-limits; writes
// are never retried, so a write is never applied twice. Errors wrap the
// same errs sentinels as the embedded profile, decoded from the server's
// problem+json code.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// Options configure a Client. BaseURL, KeyID and Signer are required.
type Options struct {
	// BaseURL is the server's root, e.g. "https://human.example.com".
	BaseURL string
	// KeyID names the principal: AdminKeyID(org, key) or PassportKeyID(org, did).
	KeyID string
	// Signer signs each request; its public key must be the principal's.
	Signer passport.Signer
	// HTTPClient sends the requests. Default: a client with sane
	// connection limits and no overall timeout (Timeout bounds each request).
	HTTPClient *http.Client
	// Timeout bounds each request attempt. Default 30 seconds.
	Timeout time.Duration
	// Retries is how many times an idempotent request is retried after an
	// unavailable or rate-limited answer. Default 3; negative means none.
	Retries int
	// Now is the clock for signatures. Default time.Now.
	Now func() time.Time
	// KeySignatures signs every request with Signer instead of opening a
	// session (one public-key signature per request, as servers without
	// POST /v1/sessions need; the client also falls back by itself).
	KeySignatures bool
}

// Client is a signed HTTP client of one HUMAN server, acting as one
// principal. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	keyID   string
	signer  passport.Signer
	hc      *http.Client
	timeout time.Duration
	retries int
	now     func() time.Time
	keyOnly bool
	sess    sessions // session.go
}

// AdminKeyID is the key id of an org's admin credential.
func AdminKeyID(org string, key passport.PublicKey) string { return wire.AdminKeyID(org, key) }

// PassportKeyID is the key id of a passport registered in org.
func PassportKeyID(org, did string) string { return wire.PassportKeyID(org, did) }

// New returns a client. A missing or malformed option is errs.ErrInvalidArgument.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "remote: base URL %q: want http(s)://host[:port]", opts.BaseURL)
	}
	if opts.Signer == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "remote: a signer (the org admin or passport key) is required")
	}
	if kind, _, _, err := wire.ParseKeyID(opts.KeyID); err != nil || kind == wire.KeySession {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "remote: key id %q: want admin/ORG/KEY or passport/ORG/DID", opts.KeyID)
	}
	c := &Client{base: u, keyID: opts.KeyID, signer: opts.Signer, hc: opts.HTTPClient, timeout: opts.Timeout, retries: opts.Retries, now: opts.Now,
		keyOnly: opts.KeySignatures}
	if c.hc == nil {
		c.hc = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConns: 256, MaxIdleConnsPerHost: 256,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
			ResponseHeaderTimeout: 0, ExpectContinueTimeout: time.Second,
		}}
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	switch {
	case c.retries == 0:
		c.retries = 3
	case c.retries < 0:
		c.retries = 0
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// KeyID is the principal this client acts as.
func (c *Client) KeyID() string { return c.keyID }

// Close releases idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// maxResponse bounds a response body the client reads.
const maxResponse = 32 << 20

// Do sends one request to path (with query) carrying in as JSON (nil for
// no body) and decodes a 2xx JSON answer into out (nil to discard it).
// extra extends the attempt timeout (for long polls). Idempotent requests
// are retried on ErrUnavailable. Exported for tests and tools that reach
// routes without a typed method.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any, idempotent bool, extra time.Duration) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return errs.Errorf(errs.ErrInvalidArgument, "remote: encoding %s %s: %v", method, path, err)
		}
	}
	u := *c.base
	u.Path = strings.TrimSuffix(c.base.Path, "/") + path
	u.RawQuery = query.Encode()
	attempts := 1
	if idempotent {
		attempts += c.retries
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if werr := backoff(ctx, i); werr != nil {
				return err
			}
		}
		err = c.once(ctx, method, &u, body, out, extra)
		if err == nil || !errors.Is(err, errs.ErrUnavailable) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// backoff sleeps 50ms·2^(n-1) (capped at 2s) with full jitter.
func backoff(ctx context.Context, n int) error {
	d := min(50*time.Millisecond<<(n-1), 2*time.Second)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// once makes one attempt: signed with the session (opening one if
// needed), and once more with a new session when the server no longer
// knows the one it used. A 401 means the server did nothing, so resending
// even a write is safe.
func (c *Client) once(ctx context.Context, method string, u *url.URL, body []byte, out any, extra time.Duration) error {
	st, err := c.session(ctx)
	if err != nil {
		return err
	}
	status, code, err := c.send(ctx, method, u, body, out, extra, st)
	if st != nil && status == http.StatusUnauthorized && (code == wire.CodeSessionExpired || code == wire.CodeUnknownSession) {
		c.dropSession()
		if st, err = c.session(ctx); err != nil {
			return err
		}
		_, _, err = c.send(ctx, method, u, body, out, extra, st)
	}
	return err
}

// send makes one HTTP request signed with st, or with the key when st is
// nil, and returns the status and problem code of a refusal with the error.
func (c *Client) send(ctx context.Context, method string, u *url.URL, body []byte, out any, extra time.Duration, st *sessionState) (int, string, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout+extra)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, "", errs.Errorf(errs.ErrInvalidArgument, "remote: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, "+wire.ProblemType)
	if st != nil {
		err = wire.SignRequestHMAC(req, body, st.keyID, st.key, c.now())
	} else {
		err = wire.SignRequest(req, body, c.keyID, c.signer, c.now())
	}
	if err != nil {
		return 0, "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return 0, "", errs.Errorf(errs.ErrUnavailable, "remote: %s %s: %w", method, u.Path, cerr)
		}
		return 0, "", errs.Errorf(errs.ErrUnavailable, "remote: %s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, "", errs.Errorf(errs.ErrUnavailable, "remote: reading %s %s: %w", method, u.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		var p wire.Problem
		if mt == wire.ProblemType && json.Unmarshal(data, &p) == nil && p.Code != "" {
			p.Status = resp.StatusCode
			return resp.StatusCode, p.Code, fmt.Errorf("remote: %s %s: %w", method, u.Path, p.Err())
		}
		return resp.StatusCode, "", errs.Errorf(wire.KindOf("", resp.StatusCode), "remote: %s %s: HTTP %d", method, u.Path, resp.StatusCode)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, "", nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, "", errs.Errorf(errs.ErrUnavailable, "remote: decoding %s %s: %v", method, u.Path, err)
	}
	return resp.StatusCode, "", nil
}

// Enroll registers org on a server that allows open enrollment, with
// signer's public key as the org's admin credential. An org that exists is
// errs.ErrConflict; a server without open enrollment answers
// errs.ErrPermissionDenied.
func Enroll(ctx context.Context, baseURL, org string, signer passport.Signer) error {
	c, err := New(Options{BaseURL: baseURL, KeyID: AdminKeyID(org, signer.PublicKey()), Signer: signer, Retries: -1, KeySignatures: true})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Do(ctx, http.MethodPost, "/v1/orgs", nil, wire.Enrollment{Org: org}, nil, false, 0)
}

// Org returns the caller's org, the ledger's verifier key and the
// principal the server authenticated.
func (c *Client) Org(ctx context.Context) (*wire.OrgInfo, error) {
	var out wire.OrgInfo
	return &out, c.Do(ctx, http.MethodGet, "/v1/attestations/key", nil, nil, &out, true, 0)
}

// RegisterPassport records a self-signed inception.
func (c *Client) RegisterPassport(ctx context.Context, inception *passport.Envelope) (*passport.Passport, error) {
	var out wire.Passport
	if err := c.Do(ctx, http.MethodPost, "/v1/passport", nil, wire.PassportBody{Envelope: inception}, &out, false, 0); err != nil {
		return nil, err
	}
	return out.PassportValue(), nil
}

// Passport returns a passport of the caller's org.
func (c *Client) Passport(ctx context.Context, did string) (*passport.Passport, error) {
	var out wire.Passport
	if err := c.Do(ctx, http.MethodGet, "/v1/passport/"+url.PathEscape(did), nil, nil, &out, true, 0); err != nil {
		return nil, err
	}
	return out.PassportValue(), nil
}

// UpdatePassport records a signed passport event (rotation, device change,
// guardians, revocation, recovery steps).
func (c *Client) UpdatePassport(ctx context.Context, event *passport.Envelope) (*passport.Passport, error) {
	var out wire.Passport
	if err := c.Do(ctx, http.MethodPost, "/v1/passport/events", nil, wire.PassportBody{Envelope: event}, &out, false, 0); err != nil {
		return nil, err
	}
	return out.PassportValue(), nil
}

// Delegate records a signed delegation certificate.
func (c *Client) Delegate(ctx context.Context, cert *passport.Envelope) (*passport.Delegation, error) {
	var out wire.Delegation
	if err := c.Do(ctx, http.MethodPost, "/v1/passport/delegations", nil, wire.PassportBody{Envelope: cert}, &out, false, 0); err != nil {
		return nil, err
	}
	return passport.ParseDelegation(out.Envelope)
}

// RevokeDelegation records a signed revocation.
func (c *Client) RevokeDelegation(ctx context.Context, revocation *passport.Envelope) error {
	return c.Do(ctx, http.MethodPost, "/v1/passport/revocations", nil, wire.PassportBody{Envelope: revocation}, nil, false, 0)
}

// PublishPolicy applies a signed policy change that publishes a document
// (policy.SignChange). The returned Policy's Document is parsed locally
// from the change the server accepted.
func (c *Client) PublishPolicy(ctx context.Context, change *passport.Envelope) (*policy.Policy, error) {
	ch, err := policy.ParseChange(change)
	if err != nil {
		return nil, err
	}
	var out wire.Policy
	if err := c.Do(ctx, http.MethodPost, "/v1/humanos/policies", nil, wire.PassportBody{Envelope: change}, &out, false, 0); err != nil {
		return nil, err
	}
	return compiled(out, ch.Filename, ch.Document)
}

// ActivatePolicy applies a signed change that activates a stored version.
func (c *Client) ActivatePolicy(ctx context.Context, change *passport.Envelope) (*policy.Policy, error) {
	var out wire.Policy
	if err := c.Do(ctx, http.MethodPost, "/v1/humanos/policies/activations", nil, wire.PassportBody{Envelope: change}, &out, false, 0); err != nil {
		return nil, err
	}
	return compiled(out, out.Filename, []byte(out.Source))
}

// ActivePolicy returns the org's active policy.
func (c *Client) ActivePolicy(ctx context.Context) (*policy.Policy, error) {
	var out wire.Policy
	if err := c.Do(ctx, http.MethodGet, "/v1/humanos/policies/active", nil, nil, &out, true, 0); err != nil {
		return nil, err
	}
	return compiled(out, out.Filename, []byte(out.Source))
}

// LatestPolicyVersion is the highest stored policy version (0: none).
func (c *Client) LatestPolicyVersion(ctx context.Context) (int, error) {
	var out wire.PolicyVersion
	err := c.Do(ctx, http.MethodGet, "/v1/humanos/policies/latest", nil, nil, &out, true, 0)
	return out.Version, err
}

// compiled fills a Policy's Document by parsing its source locally; a
// policy without source keeps a nil Document.
func compiled(w wire.Policy, filename string, source []byte) (*policy.Policy, error) {
	p := &policy.Policy{Version: w.Version, Digest: w.Digest}
	if len(source) > 0 {
		doc, err := policy.Parse(filename, source)
		if err != nil {
			return nil, err
		}
		p.Document = doc
	}
	return p, nil
}

// Grant records that subject holds a capability.
func (c *Client) Grant(ctx context.Context, subject, capabilityName string) error {
	return c.Do(ctx, http.MethodPost, "/v1/capabilities/grants", nil, wire.Grant{Subject: subject, Capability: capabilityName}, nil, false, 0)
}

// AddMember records that member belongs to team.
func (c *Client) AddMember(ctx context.Context, member, team string) error {
	return c.Do(ctx, http.MethodPost, "/v1/capabilities/members", nil, wire.Member{Member: member, Team: team}, nil, false, 0)
}

// Call makes one governed call: one POST, never retried.
func (c *Client) Call(ctx context.Context, req wire.CallRequest) (*wire.Outcome, error) {
	var out wire.Outcome
	if err := c.Do(ctx, http.MethodPost, "/v1/humanos/decisions", nil, req, &out, false, 0); err != nil {
		return nil, err
	}
	return &out, nil
}

// TaskOutcome returns the outcome of the call that opened task id. With
// wait > 0 the server holds the request until the task resolves or wait
// passes (a long poll); a still-pending outcome has status pending_approval.
func (c *Client) TaskOutcome(ctx context.Context, id string, wait time.Duration) (*wire.Outcome, error) {
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {strconv.FormatInt(wait.Milliseconds(), 10) + "ms"}}
	}
	var out wire.Outcome
	if err := c.Do(ctx, http.MethodGet, "/v1/workforce/tasks/"+url.PathEscape(id)+"/outcome", q, nil, &out, true, wait); err != nil {
		return nil, err
	}
	return &out, nil
}

// Task returns an approval task.
func (c *Client) Task(ctx context.Context, id string) (*workforce.Task, error) {
	var out workforce.Task
	if err := c.Do(ctx, http.MethodGet, "/v1/workforce/tasks/"+url.PathEscape(id), nil, nil, &out, true, 0); err != nil {
		return nil, err
	}
	return &out, nil
}

// Inbox lists the pending tasks routed to a human.
func (c *Client) Inbox(ctx context.Context, human string) ([]*workforce.Task, error) {
	var out wire.Inbox
	if err := c.Do(ctx, http.MethodGet, "/v1/workforce/inbox/"+url.PathEscape(human), nil, nil, &out, true, 0); err != nil {
		return nil, err
	}
	return out.Tasks, nil
}

// Decide records an approver's signed vote.
func (c *Client) Decide(ctx context.Context, taskID string, vote *passport.Envelope) (*wire.DecideResult, error) {
	var out wire.DecideResult
	if err := c.Do(ctx, http.MethodPost, "/v1/workforce/tasks/"+url.PathEscape(taskID)+"/decisions", nil, wire.VoteBody{Vote: vote}, &out, false, 0); err != nil {
		return nil, err
	}
	return &out, nil
}

// Checkpoint returns the org ledger's latest signed checkpoint.
func (c *Client) Checkpoint(ctx context.Context) (*wire.Checkpoint, error) {
	var out wire.Checkpoint
	return &out, c.Do(ctx, http.MethodGet, "/v1/attestations/checkpoint", nil, nil, &out, true, 0)
}

// Receipt returns the receipt of ledger entry index against the latest checkpoint.
func (c *Client) Receipt(ctx context.Context, index uint64) (*ledger.Receipt, error) {
	var out wire.Receipt
	if err := c.Do(ctx, http.MethodGet, "/v1/attestations/receipts/"+strconv.FormatUint(index, 10), nil, nil, &out, true, 0); err != nil {
		return nil, err
	}
	return out.Receipt, nil
}

// Append appends an entry to the org's ledger (admin only) and returns its receipt.
func (c *Client) Append(ctx context.Context, entry []byte) (*ledger.Receipt, error) {
	var out wire.Receipt
	if err := c.Do(ctx, http.MethodPost, "/v1/attestations", nil, wire.Entry{Entry: entry}, &out, false, 0); err != nil {
		return nil, err
	}
	return out.Receipt, nil
}

// Attestations runs a ledger query on the server (GET /v1/attestations).
// Callers re-check each entry; see human.Client.Attestations.
func (c *Client) Attestations(ctx context.Context, q *ledger.Query) (*wire.AttestationPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"kind": q.Kind, "org": q.Org, "actor": q.Actor, "action": q.Action,
		"subject": q.Subject, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Proofs {
		v.Set("proofs", "true")
	}
	var out wire.AttestationPage
	if err := c.Do(ctx, "GET", "/v1/attestations", v, nil, &out, true, 0); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetAvailability relays a human's signed availability change.
func (c *Client) SetAvailability(ctx context.Context, change *passport.Envelope) (*wire.Availability, error) {
	var out wire.Availability
	if err := c.Do(ctx, "POST", "/v1/workforce/availability", nil, wire.PassportBody{Envelope: change}, &out, false, 0); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelTask withdraws an open approval task.
func (c *Client) CancelTask(ctx context.Context, taskID, reason string) (*workforce.Task, error) {
	var out workforce.Task
	if err := c.Do(ctx, "POST", "/v1/workforce/tasks/"+url.PathEscape(taskID)+"/cancellations", nil, wire.Cancellation{Reason: reason}, &out, false, 0); err != nil {
		return nil, err
	}
	return &out, nil
}

// Claim relays a signed capability claim (capability.SignClaim); the
// server verifies and applies it and returns the claim with the receipt
// of its attestation.
func (c *Client) Claim(ctx context.Context, claim *passport.Envelope) (*wire.ClaimResult, error) {
	var out wire.ClaimResult
	if err := c.Do(ctx, http.MethodPost, "/v1/capabilities/claims", nil, wire.PassportBody{Envelope: claim}, &out, false, 0); err != nil {
		return nil, err
	}
	return &out, nil
}

// Evidence returns the evidence attached to subject's holding of a
// capability, oldest first.
func (c *Client) Evidence(ctx context.Context, subject, capabilityName string) ([]capability.Evidence, error) {
	var out wire.Evidence
	q := url.Values{"subject": {subject}, "capability": {capabilityName}}
	if err := c.Do(ctx, http.MethodGet, "/v1/capabilities/evidence", q, nil, &out, true, 0); err != nil {
		return nil, err
	}
	return out.Evidence, nil
}

// Holds reports whether subject holds a capability in the caller's org,
// and by which path.
func (c *Client) Holds(ctx context.Context, subject, capabilityName string) (capability.Path, bool, error) {
	var out wire.Holding
	q := url.Values{"subject": {subject}, "capability": {capabilityName}}
	if err := c.Do(ctx, http.MethodGet, "/v1/capabilities/holds", q, nil, &out, true, 0); err != nil {
		return nil, false, err
	}
	return out.Path, out.Held, nil
}
