//go:build !humantestclock

package server_test

import (
	"net/http"
	"testing"

	"github.com/humanos/human/internal/wire"
)

// TestAttackTestClockAbsent: the normal build (the production binary) has
// no test clock. Moving the server's clock would let anyone skip a
// recovery delay or revive expired signatures, so the route that the
// humantestclock build adds (testclock.go) must be an unknown route here,
// even for an org admin.
func TestAttackTestClockAbsent(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"advance":"2h"}`)
	for _, p := range []*principal{&e.a.admin, &e.a.aliceP, nil} {
		resp, data := send(t, e.base, "POST", "/v1/testing/clock", body, p)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("POST /v1/testing/clock: %d %s, want 404", resp.StatusCode, data)
		}
		if code := problem(t, "test clock", resp, data); code != wire.CodeUnknownRoute {
			t.Fatalf("code %s, want %s", code, wire.CodeUnknownRoute)
		}
	}
	for _, r := range e.srv.Routes() {
		if r == "POST /v1/testing/clock" {
			t.Fatal("the normal build lists the test clock route")
		}
	}
}
