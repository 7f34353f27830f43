package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
	"github.com/humanos/human/workforce/notify"
)

var secret = []byte("0123456789abcdef-test-secret")

func notice() workforce.Notice {
	return workforce.Notice{Org: "acme", Task: "tsk_1", Digest: strings.Repeat("ab", 32), Event: workforce.EventOpened, Seq: 1,
		State: workforce.Pending, Action: "payments.send", Resource: "invoice/42", Capability: "payments.approve",
		Reason: "amount over 10000", Recipients: []string{"alice", "bob"}, Deadline: time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)}
}

// receiver is a webhook endpoint that verifies every request as a real
// receiver must and answers from a script of status codes.
type receiver struct {
	mu       sync.Mutex
	script   []int // status per attempt; past the end: 200
	bodies   [][]byte
	headers  []http.Header
	verified []error
	srv      *httptest.Server
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.bodies = append(r.bodies, b)
		r.headers = append(r.headers, req.Header.Clone())
		r.verified = append(r.verified, notify.Verify(secret, req.Header.Get(notify.SignatureHeader), b, time.Now(), 5*time.Minute))
		code := 200
		if i := len(r.bodies) - 1; i < len(r.script) {
			code = r.script[i]
		}
		if code == 429 {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) calls() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.bodies) }

// sleeps records the waits between attempts instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func TestWebhookSignedAndVerified(t *testing.T) {
	r := newReceiver(t)
	w, err := notify.NewWebhook(r.srv.URL, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := notice()
	if err := w.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if r.calls() != 1 || r.verified[0] != nil {
		t.Fatalf("calls %d, verification %v", r.calls(), r.verified)
	}
	var got workforce.Notice
	if err := json.Unmarshal(r.bodies[0], &got); err != nil || got.Task != n.Task || got.Digest != n.Digest || got.Event != n.Event {
		t.Fatalf("body = %s (%v)", r.bodies[0], err)
	}
	h := r.headers[0]
	if h.Get(notify.DeliveryHeader) != "tsk_1/1" || h.Get(notify.EventHeader) != "opened" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers = %v", h)
	}
	// The same body under another secret does not verify.
	if err := notify.Verify([]byte("another-secret-of-16+"), h.Get(notify.SignatureHeader), r.bodies[0], time.Now(), time.Minute); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("other secret: %v", err)
	}
}

func TestWebhookRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		script   []int
		attempts int
		calls    int
		kind     error
	}{
		{"recovers after 503s", []int{503, 502}, 4, 3, nil},
		{"429 honours Retry-After", []int{429}, 4, 2, nil},
		{"gives up, bounded", []int{500, 500, 500, 500, 500, 500}, 4, 4, errs.ErrUnavailable},
		{"400 is permanent", []int{400}, 4, 1, errs.ErrFailedPrecondition},
		{"401 is permanent", []int{401}, 4, 1, errs.ErrFailedPrecondition},
		{"redirect not followed", []int{302}, 4, 1, errs.ErrFailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, tc.script...)
			sl := &sleeps{}
			w, err := notify.NewWebhook(r.srv.URL, secret, &notify.WebhookOptions{Attempts: tc.attempts, Backoff: 100 * time.Millisecond,
				MaxBackoff: 2 * time.Second, Sleep: sl.sleep})
			if err != nil {
				t.Fatal(err)
			}
			err = w.Notify(context.Background(), notice())
			if tc.kind == nil && err != nil || tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Fatalf("Notify = %v, want %v", err, tc.kind)
			}
			if r.calls() != tc.calls {
				t.Fatalf("%d attempts, want %d", r.calls(), tc.calls)
			}
			for i, v := range r.verified {
				if v != nil {
					t.Fatalf("attempt %d did not verify: %v", i, v)
				}
				if r.headers[i].Get(notify.DeliveryHeader) != "tsk_1/1" {
					t.Fatalf("attempt %d: delivery id changed across retries", i)
				}
			}
			if len(sl.d) != tc.calls-1 {
				t.Fatalf("%d waits for %d attempts", len(sl.d), tc.calls)
			}
			// Exponential backoff with jitter in [d/2, d), capped.
			base := 100 * time.Millisecond
			for i, d := range sl.d {
				if tc.script[0] == 429 {
					if d != time.Second {
						t.Fatalf("wait %d = %v, want Retry-After 1s", i, d)
					}
					continue
				}
				lo, hi := base/2, base
				if d < lo || d > hi {
					t.Fatalf("wait %d = %v, want in [%v, %v]", i, d, lo, hi)
				}
				base = min(2*base, 2*time.Second)
			}
		})
	}
}

func TestWebhookCancelled(t *testing.T) {
	r := newReceiver(t, 503, 503, 503)
	ctx, cancel := context.WithCancel(context.Background())
	w, _ := notify.NewWebhook(r.srv.URL, secret, &notify.WebhookOptions{Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return errs.Errorf(errs.ErrUnavailable, "notify: %w", ctx.Err())
	}})
	err := w.Notify(ctx, notice())
	if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) || r.calls() != 1 {
		t.Fatalf("Notify = %v after %d calls", err, r.calls())
	}
	// Already cancelled: no request at all.
	err = w.Notify(ctx, notice())
	if !errors.Is(err, errs.ErrUnavailable) || r.calls() != 1 {
		t.Fatalf("cancelled Notify = %v, calls %d", err, r.calls())
	}
}

func TestWebhookUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	sl := &sleeps{}
	w, _ := notify.NewWebhook(srv.URL, secret, &notify.WebhookOptions{Attempts: 3, Sleep: sl.sleep})
	if err := w.Notify(context.Background(), notice()); !errors.Is(err, errs.ErrUnavailable) || len(sl.d) != 2 {
		t.Fatalf("Notify = %v, %d waits", err, len(sl.d))
	}
}

func TestNewWebhookRejects(t *testing.T) {
	for _, tc := range []struct {
		url    string
		secret []byte
	}{
		{"ftp://x/y", secret}, {"/relative", secret}, {"http://", secret}, {"http://x/", []byte("short")},
	} {
		if _, err := notify.NewWebhook(tc.url, tc.secret, nil); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("NewWebhook(%q, %d bytes) = %v", tc.url, len(tc.secret), err)
		}
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	body := []byte(`{"task":"tsk_1"}`)
	good := notify.Sign(secret, now, body)
	old := notify.Sign([]byte("the-previous-secret!"), now, body)
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		at     time.Time
		kind   error
	}{
		{"good", good, body, now, nil},
		{"good within tolerance", good, body, now.Add(4 * time.Minute), nil},
		{"rotation: old and new signatures", old + "," + strings.Split(good, ",")[1], body, now, nil},
		{"tampered body", good, []byte(`{"task":"tsk_2"}`), now, errs.ErrUnauthenticated},
		{"replayed later", good, body, now.Add(6 * time.Minute), errs.ErrUnauthenticated},
		{"from the future", good, body, now.Add(-6 * time.Minute), errs.ErrUnauthenticated},
		{"other secret only", old, body, now, errs.ErrUnauthenticated},
		{"timestamp moved", strings.Replace(good, "t=1900000000", "t=1900000001", 1), body, now, errs.ErrUnauthenticated},
		{"empty", "", body, now, errs.ErrInvalidArgument},
		{"no signature", "t=1900000000", body, now, errs.ErrInvalidArgument},
		{"no timestamp", strings.Split(good, ",")[1], body, now, errs.ErrInvalidArgument},
		{"two timestamps", good + ",t=1900000000", body, now, errs.ErrInvalidArgument},
		{"short signature", "t=1900000000,v1=abcd", body, now, errs.ErrInvalidArgument},
		{"not hex", "t=1900000000,v1=" + strings.Repeat("zz", 32), body, now, errs.ErrInvalidArgument},
		{"huge", "t=1," + strings.Repeat("x=y,", 400), body, now, errs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := notify.Verify(secret, tc.header, tc.body, tc.at, 5*time.Minute)
			if tc.kind == nil && err != nil || tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Fatalf("Verify = %v, want %v", err, tc.kind)
			}
		})
	}
}

// TestAttackWebhookReplayAndForgery: a captured request replayed after the
// tolerance, or its body swapped under the captured signature, or a body
// signed without the secret, is refused by the receiver.
func TestAttackWebhookReplayAndForgery(t *testing.T) {
	r := newReceiver(t)
	w, _ := notify.NewWebhook(r.srv.URL, secret, nil)
	if err := w.Notify(context.Background(), notice()); err != nil {
		t.Fatal(err)
	}
	sig, body := r.headers[0].Get(notify.SignatureHeader), r.bodies[0]
	if err := notify.Verify(secret, sig, body, time.Now().Add(10*time.Minute), 5*time.Minute); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("replay: %v", err)
	}
	forged := []byte(strings.Replace(string(body), `"pending"`, `"approved"`, 1))
	if err := notify.Verify(secret, sig, forged, time.Now(), 5*time.Minute); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("swapped body: %v", err)
	}
	if err := notify.Verify(secret, notify.Sign([]byte("attacker-guess-0000"), time.Now(), forged), forged, time.Now(), 5*time.Minute); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("forged signature: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_900_000_000, 0)
	f.Add(notify.Sign(secret, now, []byte("x")), []byte("x"))
	f.Add("t=1900000000,v1=00", []byte{})
	f.Add(",,,=,t=,v1=", []byte("y"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := notify.Verify(secret, header, body, now, time.Minute)
		if err == nil {
			// Only a genuine signature over this body may pass.
			if notify.Verify(secret, notify.Sign(secret, now, body), body, now, time.Minute) != nil {
				t.Fatal("own signature does not verify")
			}
			_, mac, _ := strings.Cut(notify.Sign(secret, parseT(header), body), ",")
			if !strings.Contains(header, mac) {
				t.Fatalf("accepted header %q without the right MAC", header)
			}
			return
		}
		if !errors.Is(err, errs.ErrInvalidArgument) && !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("Verify error of no known kind: %v", err)
		}
	})
}

func parseT(h string) time.Time {
	for p := range strings.SplitSeq(h, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "t="); ok {
			var s int64
			fmt.Sscan(v, &s)
			return time.Unix(s, 0)
		}
	}
	return time.Time{}
}

func TestSlackMessage(t *testing.T) {
	n := notice()
	n.Action = "pay <@channel> & <https://evil|click>"
	p := notify.SlackMessage(n, "https://human.example.com/")
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, want := range []string{`"type":"actions"`, `Review and approve`, `&lt;@channel&gt;`,
		`"type":"context","elements":[{"type":"mrkdwn"`, "abababababababab"} {
		if !strings.Contains(s, want) {
			t.Errorf("payload lacks %s:\n%s", want, s)
		}
	}
	if a := p.Blocks[2].Elements; a[0].URL != "https://human.example.com/app/tasks/tsk_1?intent=approve&org=acme" ||
		a[1].URL != "https://human.example.com/app/tasks/tsk_1?intent=deny&org=acme" {
		t.Errorf("button links = %s, %s", a[0].URL, a[1].URL)
	}
	if strings.Contains(s, "<@channel>") || strings.Contains(s, "<https://evil") {
		t.Errorf("mrkdwn injection passed through: %s", s)
	}
	for _, ev := range []workforce.EventType{workforce.EventVote, workforce.EventTimedOut, workforce.EventCancelled} {
		n.Event = ev
		b, _ := json.Marshal(notify.SlackMessage(n, "https://human.example.com"))
		if strings.Contains(string(b), `"actions"`) {
			t.Errorf("%s notice has buttons: %s", ev, b)
		}
	}
}

// TestAttackSlackLinkIsNotApproval: the approve link is a page address
// with no credential, digest signature or one-time token in it, so
// opening it (a link preview, a crawler, a mis-click) cannot approve; the
// task only moves on a passport-signed vote.
func TestAttackSlackLinkIsNotApproval(t *testing.T) {
	n := notice()
	p := notify.SlackMessage(n, "https://human.example.com")
	var links []string
	for _, b := range p.Blocks {
		for _, e := range b.Elements {
			if e.URL != "" {
				links = append(links, e.URL)
			}
		}
	}
	if len(links) != 2 {
		t.Fatalf("links = %v", links)
	}
	for _, l := range links {
		u, err := url.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		if u.Path != "/app/tasks/tsk_1" {
			t.Errorf("link %s does not open the signing page", l)
		}
		for k := range u.Query() {
			if k != "org" && k != "intent" {
				t.Errorf("link %s carries %q: links must carry no credential", l, k)
			}
		}
	}
}

// TestQueueNotifiesThroughWebhook: a real queue delivers its opened event
// through the webhook on its sweep; a receiver that fails transiently is
// retried by the webhook, and one that stays down is retried by later
// sweeps, bounded.
func TestQueueNotifiesThroughWebhook(t *testing.T) {
	ctx := context.Background()
	gs := memory.NewGraphStore()
	g := capability.NewGraph(gs, nil)
	for _, n := range []capability.Node{{ID: "alice", Kind: capability.Human}, {ID: "bot", Kind: capability.Agent}} {
		if err := g.AddNode(ctx, "acme", n); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Grant(ctx, "acme", "alice", "payments.approve"); err != nil {
		t.Fatal(err)
	}
	var fails atomic.Int32
	fails.Store(1)
	var got []workforce.Notice
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if notify.Verify(secret, r.Header.Get(notify.SignatureHeader), b, time.Now(), time.Minute) != nil {
			w.WriteHeader(401)
			return
		}
		if fails.Add(-1) >= 0 {
			w.WriteHeader(503)
			return
		}
		var n workforce.Notice
		_ = json.Unmarshal(b, &n)
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}))
	defer srv.Close()
	wh, _ := notify.NewWebhook(srv.URL, secret, &notify.WebhookOptions{Backoff: time.Millisecond})
	q := workforce.NewQueue(memory.NewQueueStore(), noKeys{}, g, nil, nil, workforce.WithNotifier(wh))
	tk, err := q.Open(ctx, workforce.Spec{Org: "acme", Agent: "bot", Action: "payments.send", Capability: "payments.approve", Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Task != tk.ID || got[0].Event != workforce.EventOpened || got[0].Digest != tk.DigestHex() ||
		len(got[0].Recipients) != 1 || got[0].Recipients[0] != "alice" {
		t.Fatalf("notices = %+v", got)
	}
	st, _ := q.Get(ctx, "acme", tk.ID)
	if !st.Events[0].Notified {
		t.Fatalf("opened event not marked notified: %+v", st.Events[0])
	}
}

type noKeys struct{}

func (noKeys) VerifyingKeys(context.Context, string, string) ([]passport.PublicKey, error) {
	return nil, errs.Errorf(errs.ErrNotFound, "no keys")
}

func ExampleVerify() {
	secret := []byte("shared-webhook-secret-32-bytes!!")
	body := []byte(`{"task":"tsk_1","event":"opened"}`)
	at := time.Unix(1_900_000_000, 0)
	header := notify.Sign(secret, at, body) // what the sender puts in Human-Signature
	fmt.Println(notify.Verify(secret, header, body, at.Add(time.Minute), 5*time.Minute))
	fmt.Println(errors.Is(notify.Verify(secret, header, []byte(`{"task":"tsk_2"}`), at, 5*time.Minute), errs.ErrUnauthenticated))
	// Output:
	// <nil>
	// true
}
