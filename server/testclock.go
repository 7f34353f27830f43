//go:build humantestclock

package server

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/humanos/human/errs"
)

// This file exists only in binaries built with -tags humantestclock: the
// scenario suite's remote and hybrid profiles, which must move the
// server's clock past delays such as passport.MinRecoveryDelay exactly as
// the embedded profiles move their fake clock. The clock only moves
// forward, only by an org admin's signed request, and moves the whole
// process (every org, the signature window, the expiry sweeper).

func init() { testClock = newTestClock }

// testClockAdvance is the body of POST /v1/testing/clock.
type testClockAdvance struct {
	// Advance is a positive Go duration, e.g. "1h1m".
	Advance string `json:"advance"`
}

// testClockNow is its answer: the server's clock after the move.
type testClockNow struct {
	Now time.Time `json:"now"`
}

func newTestClock(base func() time.Time) (func() time.Time, *route) {
	var offset atomic.Int64
	now := func() time.Time { return base().Add(time.Duration(offset.Load())) }
	advance := func(_ context.Context, rq *request) (int, any, error) {
		if err := requireAdmin(rq.p, "move the test clock"); err != nil {
			return 0, nil, err
		}
		var in testClockAdvance
		if err := decode(rq.body, &in); err != nil {
			return 0, nil, err
		}
		d, err := time.ParseDuration(in.Advance)
		if err != nil || d <= 0 || d > 366*24*time.Hour {
			return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "advance %q: want a positive duration up to a year", in.Advance)
		}
		offset.Add(int64(d))
		return http.StatusOK, testClockNow{Now: now()}, nil
	}
	return now, rt("POST", "/v1/testing/clock", authSigned, advance)
}
