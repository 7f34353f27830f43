package workforce_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

var ctx = context.Background()

func TestOpenRoutesToHolders(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	if got := fmt.Sprint(tk.Candidates); got != "[alice bob carol]" {
		t.Fatalf("candidates = %s, want [alice bob carol] (agent and requester dan excluded)", got)
	}
	if tk.State != workforce.Pending || tk.Version != 1 || len(tk.Digest) != 32 {
		t.Fatalf("opened task = state %s version %d digest %x", tk.State, tk.Version, tk.Digest)
	}
	if !tk.Deadline.Equal(w.clock.Now().Add(time.Hour)) || tk.OnTimeout != workforce.OnTimeoutDeny {
		t.Fatalf("deadline %v on_timeout %q", tk.Deadline, tk.OnTimeout)
	}
	got, err := w.q.Get(ctx, org, tk.ID)
	if err != nil || string(got.Digest) != string(tk.Digest) {
		t.Fatalf("Get = %v; digest round trip %x vs %x", err, got.Digest, tk.Digest)
	}
	spec := w.spec(1)
	spec.AllowDelegator = true
	tk2, err := w.q.Open(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tk2.Candidates); got != "[alice bob carol dan]" {
		t.Fatalf("AllowDelegator candidates = %s, want dan included", got)
	}
	if string(tk2.Digest) == string(tk.Digest) {
		t.Fatal("two tasks share a digest")
	}
}

func TestOpenRejects(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name   string
		mutate func(*workforce.Spec)
		kind   error
	}{
		{"no org", func(s *workforce.Spec) { s.Org = "" }, errs.ErrInvalidArgument},
		{"no agent", func(s *workforce.Spec) { s.Agent = "" }, errs.ErrInvalidArgument},
		{"no action", func(s *workforce.Spec) { s.Action = "" }, errs.ErrInvalidArgument},
		{"no capability", func(s *workforce.Spec) { s.Capability = "" }, errs.ErrInvalidArgument},
		{"negative quorum", func(s *workforce.Spec) { s.Quorum = -1 }, errs.ErrInvalidArgument},
		{"no timeout", func(s *workforce.Spec) { s.Timeout = 0 }, errs.ErrInvalidArgument},
		{"bad on_timeout", func(s *workforce.Spec) { s.OnTimeout = "allow" }, errs.ErrInvalidArgument},
		{"unencodable attribute", func(s *workforce.Spec) { s.Attributes = map[string]any{"f": func() {}} }, errs.ErrInvalidArgument},
		{"nobody holds it", func(s *workforce.Spec) { s.Capability = "nobody.holds" }, errs.ErrFailedPrecondition},
		{"quorum above candidates", func(s *workforce.Spec) { s.Quorum = 4 }, errs.ErrFailedPrecondition},
		{"other org", func(s *workforce.Spec) { s.Org = "globex" }, errs.ErrFailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := w.spec(1)
			tc.mutate(&s)
			if _, err := w.q.Open(ctx, s); !errors.Is(err, tc.kind) {
				t.Fatalf("Open = %v, want %v", err, tc.kind)
			}
		})
	}
	if ts, _ := w.store.List(ctx, org, workforce.Pending, 0); len(ts) != 0 {
		t.Fatalf("rejected Opens created %d tasks", len(ts))
	}
}

// TestOnlyRequesterHolds: when the only holder is the human who delegated
// to the agent, there is no eligible approver, and the caller must deny.
func TestOnlyRequesterHolds(t *testing.T) {
	w := newWorld(t)
	if err := w.graph.Grant(ctx, org, "dan", "solo.approve"); err != nil {
		t.Fatal(err)
	}
	s := w.spec(1)
	s.Capability = "solo.approve"
	if _, err := w.q.Open(ctx, s); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("Open = %v, want ErrFailedPrecondition (no eligible approver)", err)
	}
}

func TestDecide(t *testing.T) {
	type step struct {
		who, verdict string
		state        workforce.State
	}
	for _, tc := range []struct {
		name   string
		quorum int
		steps  []step
	}{
		{"approve", 1, []step{{"alice", "approve", workforce.Approved}}},
		{"deny", 1, []step{{"bob", "deny", workforce.Denied}}},
		{"quorum two", 2, []step{{"alice", "approve", workforce.Pending}, {"carol", "approve", workforce.Approved}}},
		{"deny after an approval fails closed", 2, []step{{"alice", "approve", workforce.Pending}, {"bob", "deny", workforce.Denied}}},
		{"one deny ends a quorum of three", 3, []step{{"carol", "deny", workforce.Denied}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tk := w.open(tc.quorum)
			var want []string
			for i, s := range tc.steps {
				got, err := w.q.Decide(ctx, org, tk.ID, w.vote(s.who, s.who, tk, s.verdict))
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got.State != s.state || len(got.Approvals) != i+1 || got.Version != 2*i+3 {
					t.Fatalf("step %d: state %s, %d votes, version %d", i, got.State, len(got.Approvals), got.Version)
				}
				// Each vote is two writes: the vote with its outbox event,
				// then the event marked delivered once attested.
				if (s.state == workforce.Pending) != got.ResolvedAt.IsZero() {
					t.Fatalf("step %d: ResolvedAt %v with state %s", i, got.ResolvedAt, got.State)
				}
				want = append(want, fmt.Sprintf("%s %s %s", s.state, s.who, s.verdict))
			}
			if got := w.rec.all(); !slices.Equal(got, want) {
				t.Fatalf("recorded %q, want %q", got, want)
			}
			final, err := w.q.Get(ctx, org, tk.ID)
			if err != nil || final.State != tc.steps[len(tc.steps)-1].state {
				t.Fatalf("Get = %v, %v", final, err)
			}
			// Any further vote on a resolved task is refused.
			if final.State != workforce.Pending {
				if _, err := w.q.Decide(ctx, org, tk.ID, w.vote("bob", "bob", tk, "approve")); !errors.Is(err, errs.ErrFailedPrecondition) && !errors.Is(err, errs.ErrConflict) {
					t.Fatalf("vote on a resolved task = %v, want ErrFailedPrecondition", err)
				}
			}
		})
	}
}

func TestDuplicateVote(t *testing.T) {
	w := newWorld(t)
	tk := w.open(2)
	first := w.vote("alice", "alice", tk, "approve")
	if _, err := w.q.Decide(ctx, org, tk.ID, first); err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string]*passport.Envelope{
		"replayed envelope":       first,
		"second approve":          w.vote("alice", "alice", tk, "approve"),
		"second vote, now a deny": w.vote("alice", "alice", tk, "deny"),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := w.q.Decide(ctx, org, tk.ID, env); !errors.Is(err, errs.ErrConflict) {
				t.Fatalf("Decide = %v, want ErrConflict", err)
			}
			got, _ := w.q.Get(ctx, org, tk.ID)
			if got.State != workforce.Pending || len(got.Approvals) != 1 || got.Version != 3 {
				t.Fatalf("duplicate changed the task: %s, %d votes, v%d", got.State, len(got.Approvals), got.Version)
			}
		})
	}
}

// checkRejected asserts Decide fails with kind and leaves the task as it was.
func checkRejected(t *testing.T, w *world, tk *workforce.Task, env *passport.Envelope, kind error) {
	t.Helper()
	before, err := w.store.Get(ctx, tk.Org, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.q.Decide(ctx, tk.Org, tk.ID, env); !errors.Is(err, kind) {
		t.Fatalf("Decide = %v, want %v", err, kind)
	}
	after, _ := w.store.Get(ctx, tk.Org, tk.ID)
	if after.Version != before.Version || after.State != before.State || len(after.Approvals) != len(before.Approvals) {
		t.Fatalf("rejected vote changed the task: v%d %s -> v%d %s", before.Version, before.State, after.Version, after.State)
	}
}

// TestAttackForgedVote: votes whose signature is not the approver's, whose
// payload was altered after signing, or that carry no signature, do not
// count (invariant 6).
func TestAttackForgedVote(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	t.Run("signed by another human's key", func(t *testing.T) {
		checkRejected(t, w, tk, w.vote("mallory", "alice", tk, "approve"), errs.ErrUnauthenticated)
	})
	t.Run("signed by the agent's key", func(t *testing.T) {
		checkRejected(t, w, tk, w.vote(agent, "alice", tk, "approve"), errs.ErrUnauthenticated)
	})
	t.Run("payload altered after signing", func(t *testing.T) {
		env := w.vote("alice", "alice", tk, "deny")
		var a map[string]any
		_ = json.Unmarshal(env.Payload, &a)
		a["verdict"] = "approve"
		env.Payload, _ = json.Marshal(a)
		checkRejected(t, w, tk, env, errs.ErrUnauthenticated)
	})
	t.Run("signatures stripped", func(t *testing.T) {
		env := w.vote("alice", "alice", tk, "approve")
		env.Signatures = nil
		checkRejected(t, w, tk, env, errs.ErrUnauthenticated)
	})
	t.Run("unknown approver passport", func(t *testing.T) {
		s, _ := passport.GenerateEd25519()
		env, _ := workforce.SignVote(s, "did:human:ghost", tk, "approve", w.clock.Now())
		checkRejected(t, w, tk, env, errs.ErrUnauthenticated)
	})
	t.Run("wrong payload type", func(t *testing.T) {
		env := w.vote("alice", "alice", tk, "approve")
		env.PayloadType = "application/json"
		checkRejected(t, w, tk, env, errs.ErrInvalidArgument)
	})
	t.Run("nil envelope", func(t *testing.T) {
		checkRejected(t, w, tk, nil, errs.ErrInvalidArgument)
	})
}

// TestAttackReplayOnAnotherTask: a valid vote for one task is refused on
// another, and a vote over content that differs from the stored task's is
// refused.
func TestAttackReplayOnAnotherTask(t *testing.T) {
	w := newWorld(t)
	small, big := w.open(1), w.open(1)
	checkRejected(t, w, big, w.vote("alice", "alice", small, "approve"), errs.ErrUnauthenticated)

	changed := *big
	changed.Resource = "invoice/43"
	changed.Digest, _ = changed.ComputeDigest()
	checkRejected(t, w, big, w.vote("alice", "alice", &changed, "approve"), errs.ErrUnauthenticated)
}

// TestAttackApproverWithoutCapability is invariant 6: a properly signed
// approval from a human who does not hold the capability does not count,
// nor does one from a candidate who lost it after the task was routed.
func TestAttackApproverWithoutCapability(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	checkRejected(t, w, tk, w.vote("mallory", "mallory", tk, "approve"), errs.ErrPermissionDenied)

	if err := w.graph.RemoveEdge(ctx, org, "bob", capability.MemberOf, "treasury"); err != nil {
		t.Fatal(err)
	}
	checkRejected(t, w, tk, w.vote("bob", "bob", tk, "approve"), errs.ErrPermissionDenied)

	// A capability granted after routing does not make one a candidate.
	if err := w.graph.Grant(ctx, org, "mallory", cap1); err != nil {
		t.Fatal(err)
	}
	checkRejected(t, w, tk, w.vote("mallory", "mallory", tk, "approve"), errs.ErrPermissionDenied)

	if got, err := w.q.Decide(ctx, org, tk.ID, w.vote("carol", "carol", tk, "approve")); err != nil || got.State != workforce.Approved {
		t.Fatalf("holder's vote = %v, %v", got, err)
	}
}

// TestAttackAgentApprovesItself: the requesting agent can never approve its
// own task, even if a key source wrongly vouches for its key.
func TestAttackAgentApprovesItself(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	checkRejected(t, w, tk, w.vote(agent, agent, tk, "approve"), errs.ErrUnauthenticated)
	w.keys.set(org, agent, w.signers[agent].PublicKey())
	checkRejected(t, w, tk, w.vote(agent, agent, tk, "approve"), errs.ErrPermissionDenied)
}

// TestAttackRequesterApproves: the human who delegated to the agent cannot
// approve unless the policy allows it.
func TestAttackRequesterApproves(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	checkRejected(t, w, tk, w.vote("dan", "dan", tk, "approve"), errs.ErrPermissionDenied)

	s := w.spec(1)
	s.AllowDelegator = true
	allowed, err := w.q.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := w.q.Decide(ctx, org, allowed.ID, w.vote("dan", "dan", allowed, "approve")); err != nil || got.State != workforce.Approved {
		t.Fatalf("allowed delegator's vote = %v, %v", got, err)
	}
}

// TestAttackTamperedStore: a task edited, or a decision injected, straight
// in the store does not verify.
func TestAttackTamperedStore(t *testing.T) {
	t.Run("content changed", func(t *testing.T) {
		w := newWorld(t)
		tk := w.open(1)
		vote := w.vote("alice", "alice", tk, "approve")
		st, _ := w.store.Get(ctx, org, tk.ID)
		st.Resource = "invoice/999"
		if err := w.store.Update(ctx, st, st.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := w.q.Decide(ctx, org, tk.ID, vote); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("Decide on tampered task = %v, want ErrUnauthenticated", err)
		}
	})
	t.Run("approved without votes", func(t *testing.T) {
		w := newWorld(t)
		tk := w.open(1)
		st, _ := w.store.Get(ctx, org, tk.ID)
		st.State, st.ResolvedAt = workforce.Approved, w.clock.Now()
		if err := w.store.Update(ctx, st, st.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := w.q.Get(ctx, org, tk.ID); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("Get = %v, want ErrUnauthenticated", err)
		}
		if _, err := w.q.Wait(ctx, org, tk.ID); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("Wait = %v, want ErrUnauthenticated", err)
		}
	})
	t.Run("forged vote injected", func(t *testing.T) {
		w := newWorld(t)
		tk := w.open(1)
		st, _ := w.store.Get(ctx, org, tk.ID)
		st.State = workforce.Approved
		st.Approvals = []workforce.Vote{{Approver: "alice", Verdict: "approve", At: w.clock.Now(),
			Envelope: w.vote("mallory", "alice", tk, "approve")}}
		if err := w.store.Update(ctx, st, st.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := w.q.Get(ctx, org, tk.ID); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("Get = %v, want ErrUnauthenticated", err)
		}
	})
	t.Run("vote relabelled", func(t *testing.T) {
		w := newWorld(t)
		tk := w.open(2)
		if _, err := w.q.Decide(ctx, org, tk.ID, w.vote("alice", "alice", tk, "deny")); err != nil {
			t.Fatal(err)
		}
		st, _ := w.store.Get(ctx, org, tk.ID)
		st.State = workforce.Approved
		st.Approvals[0].Verdict = "approve"
		if err := w.store.Update(ctx, st, st.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := w.q.Get(ctx, org, tk.ID); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("Get = %v, want ErrUnauthenticated", err)
		}
	})
}

func TestAttackCrossOrg(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	if _, err := w.q.Get(ctx, "globex", tk.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Get from another org = %v, want ErrNotFound", err)
	}
	if _, err := w.q.Decide(ctx, "globex", tk.ID, w.vote("alice", "alice", tk, "approve")); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Decide from another org = %v, want ErrNotFound", err)
	}
	if got, _ := w.q.Inbox(ctx, "globex", "alice"); len(got) != 0 {
		t.Fatalf("Inbox of another org lists %d tasks", len(got))
	}
}

func TestTimeout(t *testing.T) {
	w := newWorld(t)
	tk := w.open(2)
	if _, err := w.q.Decide(ctx, org, tk.ID, w.vote("alice", "alice", tk, "approve")); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	got, err := w.q.Decide(ctx, org, tk.ID, w.vote("bob", "bob", tk, "approve"))
	if !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("late vote = %v, want ErrFailedPrecondition", err)
	}
	if got == nil || got.State != workforce.TimedOut {
		t.Fatalf("late vote returned %+v, want the timed out task", got)
	}
	final, err := w.q.Get(ctx, org, tk.ID)
	if err != nil || final.State != workforce.TimedOut || len(final.Approvals) != 1 || final.ResolvedAt.IsZero() {
		t.Fatalf("after timeout: %+v, %v", final, err)
	}
	if rec := w.rec.all(); !slices.Equal(rec, []string{"pending alice approve", "timed_out -"}) {
		t.Fatalf("recorded %q", rec)
	}
	if _, err := w.q.Decide(ctx, org, tk.ID, w.vote("carol", "carol", tk, "approve")); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("vote on timed out task = %v", err)
	}
}

func TestExpireDue(t *testing.T) {
	w := newWorld(t)
	a, b := w.open(1), w.open(1)
	spec := w.spec(1)
	spec.Timeout = 3 * time.Hour
	c, err := w.q.Open(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.q.Decide(ctx, org, b.ID, w.vote("alice", "alice", b, "approve")); err != nil {
		t.Fatal(err)
	}
	if n, err := w.q.ExpireDue(ctx); n != 0 || err != nil {
		t.Fatalf("ExpireDue before deadlines = %d, %v", n, err)
	}
	w.clock.Advance(2 * time.Hour)
	if n, err := w.q.ExpireDue(ctx); n != 1 || err != nil {
		t.Fatalf("ExpireDue = %d, %v; want 1", n, err)
	}
	for id, want := range map[string]workforce.State{a.ID: workforce.TimedOut, b.ID: workforce.Approved, c.ID: workforce.Pending} {
		if got, _ := w.q.Get(ctx, org, id); got.State != want {
			t.Fatalf("task %s = %s, want %s", id, got.State, want)
		}
	}
	if n, _ := w.q.ExpireDue(ctx); n != 0 {
		t.Fatalf("second ExpireDue = %d, want 0", n)
	}
}

func TestWaitWakesOnDecision(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	done := make(chan *workforce.Task)
	go func() {
		got, err := w.q.Wait(ctx, org, tk.ID)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	if _, err := w.q.Decide(ctx, org, tk.ID, w.vote("bob", "bob", tk, "approve")); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got == nil || got.State != workforce.Approved {
		t.Fatalf("Wait = %+v", got)
	}
}

func TestWaitTimesOut(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	done := make(chan *workforce.Task)
	go func() {
		got, err := w.q.Wait(ctx, org, tk.ID)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	w.clock.Advance(time.Hour + time.Second)
	if got := <-done; got == nil || got.State != workforce.TimedOut {
		t.Fatalf("Wait = %+v, want timed out", got)
	}
}

func TestCancelledContext(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s = %v, want ErrUnavailable wrapping context.Canceled", name, err)
		}
	}
	_, err := w.q.Decide(cctx, org, tk.ID, w.vote("alice", "alice", tk, "approve"))
	check("Decide", err)
	_, err = w.q.Wait(cctx, org, tk.ID)
	check("Wait", err)
	_, err = w.q.Open(cctx, w.spec(1))
	check("Open", err)
	_, err = w.q.ExpireDue(cctx)
	check("ExpireDue", err)
	if got, _ := w.q.Get(ctx, org, tk.ID); got.State != workforce.Pending || got.Version != 1 {
		t.Fatalf("cancelled calls changed the task: %s v%d", got.State, got.Version)
	}

	// A Wait whose context ends while the task is pending returns.
	tctx, tcancel := context.WithTimeout(ctx, 120*time.Millisecond)
	defer tcancel()
	_, err = w.q.Wait(tctx, org, tk.ID)
	if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past ctx deadline = %v", err)
	}
}

func TestRecorderFailure(t *testing.T) {
	w := newWorld(t)
	tk := w.open(1)
	w.rec.failing = true
	got, err := w.q.Decide(ctx, org, tk.ID, w.vote("alice", "alice", tk, "approve"))
	if !errors.Is(err, errs.ErrUnavailable) || got == nil || got.State != workforce.Approved {
		t.Fatalf("Decide with a failing recorder = %v, %v; want the stored task and ErrUnavailable", got, err)
	}
}

func TestInbox(t *testing.T) {
	w := newWorld(t)
	a := w.open(1)
	w.clock.Advance(time.Second)
	b := w.open(2)
	if _, err := w.q.Decide(ctx, org, b.ID, w.vote("alice", "alice", b, "approve")); err != nil {
		t.Fatal(err)
	}
	ids := func(ts []*workforce.Task) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	for _, tc := range []struct {
		human string
		want  []string
	}{
		{"alice", []string{a.ID}},     // already voted on b
		{"bob", []string{a.ID, b.ID}}, // oldest first
		{"dan", nil},                  // requester: not routed
		{"mallory", nil},              // not a holder
	} {
		got, err := w.q.Inbox(ctx, org, tc.human)
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Fatalf("Inbox(%s) = %v, %v; want %v", tc.human, ids(got), err, tc.want)
		}
	}
	w.clock.Advance(2 * time.Hour)
	if got, _ := w.q.Inbox(ctx, org, "bob"); len(got) != 0 {
		t.Fatalf("overdue tasks in inbox: %v", ids(got))
	}
}

// TestAttributesSurviveStores: numbers beyond float64 precision and nested
// values keep the digest stable through a JSON store.
func TestAttributesSurviveStores(t *testing.T) {
	for name, mk := range map[string]func(t *testing.T) workforce.Store{
		"memory": func(*testing.T) workforce.Store { return memory.NewQueueStore() },
		"sqlite": func(t *testing.T) workforce.Store { return sqlite.NewQueueStore(openDB(t, "")) },
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorldOn(t, mk(t), memory.NewGraphStore())
			s := w.spec(1)
			s.Attributes = map[string]any{"big": int64(9007199254740993), "nested": struct{ B, A int }{1, 2}, "f": 1.5}
			tk, err := w.q.Open(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := w.q.Decide(ctx, org, tk.ID, w.vote("alice", "alice", tk, "approve")); err != nil || got.State != workforce.Approved {
				t.Fatalf("Decide = %v, %v", got, err)
			}
		})
	}
}

// openDB opens the sqlite file at path (a fresh temp file if empty).
func openDB(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "human.db")
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConcurrentDecideSharedSQLite: two queues, each with its own handle on
// one SQLite file (as two processes would), take votes at the same time;
// no vote is lost, and a Wait in one sees a decision made by the other.
func TestConcurrentDecideSharedSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "human.db")
	db1, db2 := openDB(t, path), openDB(t, path)
	w := newWorldOn(t, sqlite.NewQueueStore(db1), sqlite.NewGraphStore(db1))
	other := workforce.NewQueue(sqlite.NewQueueStore(db2), w.keys, capability.NewGraph(sqlite.NewGraphStore(db2), w.clock.Now), nil, w.clock.Now)

	tk := w.open(3)
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	for i, h := range []string{"alice", "bob", "carol"} {
		q := w.q
		if i%2 == 1 {
			q = other
		}
		env := w.vote(h, h, tk, "approve")
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := q.Decide(ctx, org, tk.ID, env)
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := other.Get(ctx, org, tk.ID)
	if err != nil || got.State != workforce.Approved || len(got.Approvals) != 3 || got.Version != 7 {
		t.Fatalf("after concurrent votes: %+v, %v; want approved with 3 votes at version 7 (two writes per vote)", got, err)
	}

	// Cross-process wake-up: Wait on one queue, decide on the other.
	tk2 := w.open(1)
	done := make(chan *workforce.Task)
	go func() {
		got, err := w.q.Wait(ctx, org, tk2.ID)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	if _, err := other.Decide(ctx, org, tk2.ID, w.vote("carol", "carol", tk2, "deny")); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got == nil || got.State != workforce.Denied {
		t.Fatalf("Wait across processes = %+v", got)
	}
}

func BenchmarkOpen(b *testing.B) {
	w := newWorld(b)
	s := w.spec(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.q.Open(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	w := newWorld(b)
	s := w.spec(1)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tk, err := w.q.Open(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		env := w.vote("alice", "alice", tk, "approve")
		b.StartTimer()
		if _, err := w.q.Decide(ctx, org, tk.ID, env); err != nil {
			b.Fatal(err)
		}
	}
}
