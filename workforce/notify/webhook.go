// Package notify delivers approval-task notices ([workforce.Notice]) to
// people: a signed webhook ([Webhook]) and a Slack-compatible message
// ([SlackMessage]) whose buttons open the signing page of the approval
// inbox and never decide by themselves.
//
// # Webhook signatures
//
// Every request carries the header
//
//	Human-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//
// so a receiver checks both who sent the body and when, with [Verify]; a
// replay outside the tolerance window is refused. The header
// Human-Delivery (task/seq) is stable across retries of one notice, so a
// receiver can drop duplicates: delivery is at least once.
//
// # Retries
//
// A failed attempt (network error, timeout, 408, 425, 429 or 5xx) is
// retried with exponential backoff and jitter, a bounded number of times;
// any other status is permanent and not retried. The [workforce.Queue]
// retries a notice that still failed on later sweeps, again bounded.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/workforce"
)

// The headers a webhook request carries.
const (
	SignatureHeader = "Human-Signature"
	DeliveryHeader  = "Human-Delivery"
	EventHeader     = "Human-Event"
)

// MinSecretLen is the shortest webhook secret accepted: 16 bytes (128 bits).
const MinSecretLen = 16

// WebhookOptions tunes a [Webhook]; the zero value (or nil) means the
// defaults.
type WebhookOptions struct {
	// Client sends the requests. Default: a client with a 5 s timeout that
	// does not follow redirects (a redirect could move a signed body to a
	// host the secret was not meant for).
	Client *http.Client
	// Attempts is how many times one Notify tries, the first included.
	// Default 4.
	Attempts int
	// Backoff is the wait before the first retry; each later wait doubles,
	// up to MaxBackoff. Each wait is drawn uniformly from [d/2, d) (jitter,
	// so that many senders retrying at once spread out). Default 250 ms.
	Backoff time.Duration
	// MaxBackoff caps one wait, including a server's Retry-After. Default 4 s.
	MaxBackoff time.Duration
	// Body renders a notice as the request body (and its content type).
	// Default: the notice as JSON. [SlackMessage] renders Slack's format.
	Body func(workforce.Notice) (body []byte, contentType string, err error)
	// Now is the clock used for the signature timestamp. Default time.Now.
	Now func() time.Time
	// Sleep waits between attempts, honouring ctx. Default: a timer.
	// Tests may shorten it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Webhook is a [workforce.Notifier] that POSTs each notice to one URL,
// signed with a shared secret. It is safe for concurrent use.
type Webhook struct {
	url    string
	secret []byte
	o      WebhookOptions
}

var _ workforce.Notifier = (*Webhook)(nil)

// NewWebhook returns a webhook notifier posting to target (an http or
// https URL) signed with secret. A malformed URL or a secret shorter than
// [MinSecretLen] is errs.ErrInvalidArgument.
func NewWebhook(target string, secret []byte, o *WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "notify: webhook URL %q must be an absolute http or https URL", target)
	}
	if len(secret) < MinSecretLen {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "notify: webhook secret is %d bytes, at least %d needed", len(secret), MinSecretLen)
	}
	w := &Webhook{url: target, secret: bytes.Clone(secret)}
	if o != nil {
		w.o = *o
	}
	if w.o.Client == nil {
		w.o.Client = &http.Client{Timeout: 5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if w.o.Attempts <= 0 {
		w.o.Attempts = 4
	}
	if w.o.Backoff <= 0 {
		w.o.Backoff = 250 * time.Millisecond
	}
	if w.o.MaxBackoff <= 0 {
		w.o.MaxBackoff = 4 * time.Second
	}
	if w.o.Body == nil {
		w.o.Body = JSONBody
	}
	if w.o.Now == nil {
		w.o.Now = time.Now
	}
	if w.o.Sleep == nil {
		w.o.Sleep = sleep
	}
	return w, nil
}

// JSONBody renders n as JSON: the default webhook body.
func JSONBody(n workforce.Notice) ([]byte, string, error) {
	b, err := json.Marshal(n)
	return b, "application/json", err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return errs.Errorf(errs.ErrUnavailable, "notify: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// Notify posts n, retrying transient failures. It returns nil once the
// receiver answers 2xx; errs.ErrFailedPrecondition for a permanent refusal
// (a 4xx other than 408, 425 and 429: retrying the same body cannot help);
// errs.ErrUnavailable when every attempt failed, or wrapping ctx.Err()
// when ctx ends first.
func (w *Webhook) Notify(ctx context.Context, n workforce.Notice) error {
	body, ctype, err := w.o.Body(n)
	if err != nil {
		return errs.Errorf(errs.ErrInvalidArgument, "notify: rendering task %s %s notice: %v", n.Task, n.Event, err)
	}
	delivery := fmt.Sprintf("%s/%d", n.Task, n.Seq)
	wait := w.o.Backoff
	var last error
	for attempt := range w.o.Attempts {
		if attempt > 0 {
			d := wait/2 + rand.N(wait/2+1)
			if ra := retryAfter(last); ra > d {
				d = ra
			}
			if err := w.o.Sleep(ctx, min(d, w.o.MaxBackoff)); err != nil {
				return err
			}
			wait = min(2*wait, w.o.MaxBackoff)
		}
		if err := ctx.Err(); err != nil {
			return errs.Errorf(errs.ErrUnavailable, "notify: %w", err)
		}
		last = w.post(ctx, body, ctype, delivery, string(n.Event))
		if last == nil {
			return nil
		}
		if errs.Kind(last) == errs.ErrFailedPrecondition {
			return last
		}
	}
	return errs.Errorf(errs.ErrUnavailable, "notify: task %s %s notice not delivered after %d attempts: %w", n.Task, n.Event, w.o.Attempts, last)
}

// statusError is a non-2xx answer, with the Retry-After it asked for.
type statusError struct {
	code       int
	retryAfter time.Duration
}

func (e *statusError) Error() string { return "webhook answered " + strconv.Itoa(e.code) }

func retryAfter(err error) time.Duration {
	var se *statusError
	if errors.As(err, &se) {
		return se.retryAfter
	}
	return 0
}

func (w *Webhook) post(ctx context.Context, body []byte, ctype, delivery, event string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return errs.Errorf(errs.ErrFailedPrecondition, "notify: %v", err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "human-notify/1")
	req.Header.Set(SignatureHeader, Sign(w.secret, w.o.Now(), body))
	req.Header.Set(DeliveryHeader, delivery)
	req.Header.Set(EventHeader, event)
	resp, err := w.o.Client.Do(req)
	if err != nil {
		return errs.Errorf(errs.ErrUnavailable, "notify: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooEarly || c == http.StatusTooManyRequests || c >= 500:
		se := &statusError{code: c}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			se.retryAfter = time.Duration(s) * time.Second
		}
		return errs.Errorf(errs.ErrUnavailable, "notify: %w", se)
	default:
		return errs.Errorf(errs.ErrFailedPrecondition, "notify: %w (permanent: not retried)", &statusError{code: c})
	}
}

// Sign returns the Human-Signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// maxHeader bounds the signature header a receiver parses.
const maxHeader = 1024

// Verify checks a Human-Signature header for body, as a webhook receiver
// must before trusting it: the timestamp must be within tolerance of now
// (either way) and one v1 signature must be the HMAC-SHA256 of
// "<t>.<body>" under secret (compared in constant time; several v1 values
// are allowed, so a sender can sign with an old and a new secret while
// rotating). A malformed header is errs.ErrInvalidArgument; a stale
// timestamp or no matching signature is errs.ErrUnauthenticated.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(header) > maxHeader {
		return errs.Errorf(errs.ErrInvalidArgument, "notify: signature header is %d bytes, at most %d", len(header), maxHeader)
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return errs.Errorf(errs.ErrInvalidArgument, "notify: signature header part %q is not key=value", part)
		}
		switch k {
		case "t":
			if ts != "" {
				return errs.Errorf(errs.ErrInvalidArgument, "notify: signature header has two timestamps")
			}
			ts = v
		case "v1":
			s, err := hex.DecodeString(v)
			if err != nil || len(s) != sha256.Size {
				return errs.Errorf(errs.ErrInvalidArgument, "notify: v1 signature is not %d hex bytes", sha256.Size)
			}
			sigs = append(sigs, s)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "notify: signature header has no valid timestamp")
	}
	if len(sigs) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "notify: signature header has no v1 signature")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errs.Errorf(errs.ErrUnauthenticated, "notify: signature timestamp is %v from now, more than %v", d.Round(time.Second), tolerance)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return errs.Errorf(errs.ErrUnauthenticated, "notify: no signature matches the body under this secret")
}
