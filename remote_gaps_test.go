package human_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/workforce"
)

// TestScenarioCancelAndAvailability: an agent withdraws a pending request
// and an approver goes away, with the same results in every profile
// (CancelTask and SetAvailability go through the server in the remote
// and hybrid profiles).
func TestScenarioCancelAndAvailability(t *testing.T) {
	ctx := context.Background()
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			w := setup(t, profile(t))
			out := w.call(t, "payments.send", "invoice:7", 1200)
			if out.Status != human.Pending {
				t.Fatalf("call: %s %s", out.Status, out.Reason)
			}
			task, err := w.c.CancelTask(ctx, out.Task.ID, "no longer needed")
			if err != nil || task.State != workforce.Cancelled {
				t.Fatalf("cancel: %+v %v", task, err)
			}
			if _, err := w.c.CancelTask(ctx, out.Task.ID, "again"); !errors.Is(err, errs.ErrFailedPrecondition) {
				t.Errorf("second cancel: %v, want ErrFailedPrecondition", err)
			}
			if _, err := w.c.CancelTask(ctx, "task-that-does-not-exist", "x"); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("cancel of an unknown task: %v, want ErrNotFound", err)
			}
			final, err := w.c.Resume(ctx, out.Task.ID)
			if err != nil || final.Status == human.Allowed {
				t.Errorf("resume after cancel: %v %v", final, err)
			}

			until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
			env, err := workforce.SignAvailability(w.bobKey, workforce.Availability{Org: w.c.Org(), Human: w.bob.DID, Away: true, Until: until, Created: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			a, err := w.c.SetAvailability(ctx, env)
			if err != nil || !a.Away || !a.Until.Equal(until) || a.Human != w.bob.DID {
				t.Fatalf("set availability: %+v %v", a, err)
			}
			forged, _ := workforce.SignAvailability(w.carolKey, workforce.Availability{Org: w.c.Org(), Human: w.bob.DID, Away: false, Created: time.Now()})
			if _, err := w.c.SetAvailability(ctx, forged); err == nil {
				t.Error("an availability change signed by someone else was accepted")
			}
		})
	}
}
