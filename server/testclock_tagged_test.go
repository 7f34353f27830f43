//go:build humantestclock

package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/humanos/human/internal/wire"
)

// TestTestClock (only with -tags humantestclock): an org admin moves the
// server's clock forward; nobody else can, and it never moves back.
func TestTestClock(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		body string
		p    *principal
		want string
	}{
		{`{"advance":"-1h"}`, &e.a.admin, wire.CodeInvalidArgument},
		{`{"advance":"x"}`, &e.a.admin, wire.CodeInvalidArgument},
		{`{"advance":"1h"}`, &e.a.aliceP, wire.CodeWrongRole},
		{`{"advance":"1h"}`, nil, wire.CodeMissingSignature},
	} {
		resp, data := send(t, e.base, "POST", "/v1/testing/clock", []byte(c.body), c.p)
		if code := problem(t, c.body, resp, data); code != c.want {
			t.Errorf("%s: code %s, want %s", c.body, code, c.want)
		}
	}
	resp, data := send(t, e.base, "POST", "/v1/testing/clock", []byte(`{"advance":"2h"}`), &e.a.admin)
	var out struct{ Now time.Time }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &out) != nil || out.Now.Before(time.Now().Add(119*time.Minute)) {
		t.Fatalf("advance: %d %s", resp.StatusCode, data)
	}
	// The server's signature window moved with its clock.
	resp, data = send(t, e.base, "GET", "/v1/attestations/checkpoint", nil, &e.a.admin)
	if code := problem(t, "request signed 2h behind", resp, data); code != wire.CodeStaleSignature {
		t.Errorf("code %s, want %s", code, wire.CodeStaleSignature)
	}
}
