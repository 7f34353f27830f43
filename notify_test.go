package human_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/workforce"
	"github.com/humanos/human/workforce/notify"
)

// TestNotifierWebhook: with Config.Notifier set to a signed webhook, a
// paused call's approval task reaches the receiver, signed, naming the
// capability holders, on every embedded profile.
func TestNotifierWebhook(t *testing.T) {
	secret := []byte("notifier-test-secret-0123456789")
	for _, name := range []string{"memory", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var got []workforce.Notice
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if err := notify.Verify(secret, r.Header.Get(notify.SignatureHeader), b, time.Now(), time.Minute); err != nil {
					t.Errorf("receiver: %v", err)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				var n workforce.Notice
				if err := json.Unmarshal(b, &n); err != nil {
					t.Errorf("receiver: %v", err)
				}
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
			}))
			defer srv.Close()
			wh, err := notify.NewWebhook(srv.URL, secret, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg := profiles[name](t)
			cfg.Notifier = wh
			w := setup(t, cfg)
			out := w.call(t, "payments.send", "invoice:77", 1200)
			if out.Status != human.Pending {
				t.Fatalf("status %s", out.Status)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) == 0 {
				t.Fatal("no notice reached the webhook")
			}
			n := got[0]
			if n.Task != out.Task.ID || n.Event != workforce.EventOpened || n.Digest != out.Task.DigestHex() || len(n.Recipients) != 2 {
				t.Fatalf("notice = %+v", n)
			}
		})
	}
}
