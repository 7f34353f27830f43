package adaptertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

// RunQueueStore runs the workforce.Store conformance suite. newStore must
// return a fresh, empty store for each call; each subtest gets its own.
func RunQueueStore(t *testing.T, newStore func(t *testing.T) workforce.Store) {
	ctx := context.Background()
	base := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	task := func(org, id string, created time.Time, state workforce.State) *workforce.Task {
		var wake time.Time
		if state.Open() {
			wake = created.Add(time.Hour) // the deadline, as the queue sets it
		}
		return &workforce.Task{
			Wake: wake,
			ID:   id,
			Spec: workforce.Spec{Org: org, Agent: "did:agent", Requester: "did:req", Action: "pay", Resource: "inv/1",
				Attributes: map[string]any{"amount": json.Number("9007199254740993"), "tags": []any{"a", "b"}},
				Capability: "finance.approver", Quorum: 2, Timeout: time.Hour, OnTimeout: "deny"},
			Digest:     []byte{1, 2, 3},
			Candidates: []string{"alice", "bob"},
			State:      state,
			CreatedAt:  created,
			Deadline:   created.Add(time.Hour),
			Version:    1,
		}
	}
	mustCreate := func(t *testing.T, s workforce.Store, ts ...*workforce.Task) {
		t.Helper()
		for _, tk := range ts {
			if err := s.Create(ctx, tk); err != nil {
				t.Fatalf("Create(%s/%s) = %v", tk.Org, tk.ID, err)
			}
		}
	}

	t.Run("GetNotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "org1", "nope"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t)
		tk := task("org1", "t1", base, workforce.Pending)
		tk.Approvals = []workforce.Vote{{Approver: "alice", Verdict: "approve", At: base.Add(time.Minute),
			Envelope: &passport.Envelope{PayloadType: workforce.VoteType, Payload: []byte(`{"x":1}`),
				Signatures: []passport.Signature{{KeyID: "k", Sig: []byte{9, 8, 7}}}}}}
		mustCreate(t, s, tk)
		got, err := s.Get(ctx, "org1", "t1")
		if err != nil {
			t.Fatal(err)
		}
		queueSameTask(t, got, tk)
		got.Candidates[0] = "mallory"
		again, _ := s.Get(ctx, "org1", "t1")
		if again.Candidates[0] != "alice" {
			t.Fatal("modifying a returned task changed the stored one")
		}
	})

	t.Run("CreateConflict", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, task("org1", "t1", base, workforce.Pending))
		dup := task("org1", "t1", base.Add(time.Minute), workforce.Approved)
		if err := s.Create(ctx, dup); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("Create(duplicate) = %v, want ErrConflict", err)
		}
		got, _ := s.Get(ctx, "org1", "t1")
		if got.State != workforce.Pending || !got.CreatedAt.Equal(base) {
			t.Fatalf("duplicate Create changed the task: %+v", got)
		}
	})

	t.Run("UpdateCompareAndSwap", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, task("org1", "t1", base, workforce.Pending))
		tk, _ := s.Get(ctx, "org1", "t1")
		tk.State = workforce.Approved
		if err := s.Update(ctx, tk, 1); err != nil {
			t.Fatal(err)
		}
		if tk.Version != 2 {
			t.Fatalf("after Update t.Version = %d, want 2", tk.Version)
		}
		stale, _ := s.Get(ctx, "org1", "t1")
		stale.State = workforce.Denied
		if err := s.Update(ctx, stale, 1); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("Update at a stale version = %v, want ErrConflict", err)
		}
		got, _ := s.Get(ctx, "org1", "t1")
		if got.State != workforce.Approved || got.Version != 2 {
			t.Fatalf("stale Update changed the task: state %s version %d", got.State, got.Version)
		}
		ghost := task("org1", "ghost", base, workforce.Pending)
		if err := s.Update(ctx, ghost, 1); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("Update(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("ListOrderingAndLimit", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s,
			task("org1", "c", base.Add(2*time.Second), workforce.Pending),
			task("org1", "b", base, workforce.Pending),
			task("org1", "a", base, workforce.Pending),
			task("org1", "d", base.Add(time.Second), workforce.Denied),
			task("org2", "e", base, workforce.Pending))
		got, err := s.List(ctx, "org1", workforce.Pending, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ids := queueIDs(got); ids != "[a b c]" {
			t.Fatalf("List(pending) = %s, want [a b c]", ids)
		}
		got, _ = s.List(ctx, "org1", workforce.Pending, 2)
		if ids := queueIDs(got); ids != "[a b]" {
			t.Fatalf("List(pending, 2) = %s, want [a b]", ids)
		}
		got, _ = s.List(ctx, "org1", workforce.Denied, 0)
		if ids := queueIDs(got); ids != "[d]" {
			t.Fatalf("List(denied) = %s, want [d]", ids)
		}
		// The state filter follows updates.
		tk, _ := s.Get(ctx, "org1", "a")
		tk.State = workforce.Denied
		if err := s.Update(ctx, tk, tk.Version); err != nil {
			t.Fatal(err)
		}
		got, _ = s.List(ctx, "org1", workforce.Pending, 0)
		if ids := queueIDs(got); ids != "[b c]" {
			t.Fatalf("List(pending) after update = %s, want [b c]", ids)
		}
	})

	t.Run("Due", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s,
			task("org2", "late2", base.Add(-2*time.Hour), workforce.Pending), // deadline base-1h
			task("org1", "late1", base.Add(-3*time.Hour), workforce.Pending), // deadline base-2h
			task("org1", "done", base.Add(-3*time.Hour), workforce.Approved), // resolved: never due
			task("org1", "edge", base.Add(-time.Hour), workforce.Pending),    // deadline == base: not before
			task("org1", "future", base.Add(time.Minute), workforce.Pending)) // deadline after
		got, err := s.Due(ctx, base, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ids := queueIDs(got); ids != "[late1 late2]" {
			t.Fatalf("Due = %s, want [late1 late2] (all orgs, by deadline)", ids)
		}
		got, _ = s.Due(ctx, base, 1)
		if ids := queueIDs(got); ids != "[late1]" {
			t.Fatalf("Due(limit 1) = %s, want [late1]", ids)
		}
	})

	t.Run("DueByWake", func(t *testing.T) {
		s := newStore(t)
		early := task("org1", "early", base, workforce.Assigned)
		early.Wake = base.Add(-time.Minute) // a warning before the deadline
		undelivered := task("org1", "undelivered", base, workforce.Approved)
		undelivered.Wake = base.Add(-2 * time.Minute) // a final task with an event to deliver
		idle := task("org1", "idle", base.Add(-3*time.Hour), workforce.Denied)
		idle.Wake = time.Time{} // final and delivered: never due
		mustCreate(t, s, early, undelivered, idle)
		got, err := s.Due(ctx, base, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ids := queueIDs(got); ids != "[undelivered early]" {
			t.Fatalf("Due = %s, want [undelivered early] (by wake, any state, zero wake never)", ids)
		}
		early.Wake = time.Time{}
		if err := s.Update(ctx, early, early.Version); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Due(ctx, base, 0)
		if ids := queueIDs(got); ids != "[undelivered]" {
			t.Fatalf("Due after clearing a wake = %s, want [undelivered]", ids)
		}
	})

	if _, ok := newStore(t).(workforce.RosterStore); ok {
		t.Run("Roster", func(t *testing.T) {
			s := newStore(t)
			rs := s.(workforce.RosterStore)
			a := task("org1", "a", base, workforce.Assigned)
			a.Assignees = []string{"alice", "bob"}
			b := task("org1", "b", base, workforce.Escalated)
			b.Assignees = []string{"alice"}
			c := task("org2", "c", base, workforce.Assigned)
			c.Assignees = []string{"alice"}
			mustCreate(t, s, a, b, c)
			loads, err := rs.Loads(ctx, "org1")
			if err != nil || fmt.Sprint(loads) != "map[alice:2 bob:1]" {
				t.Fatalf("Loads = %v, %v; want map[alice:2 bob:1]", loads, err)
			}
			a.State = workforce.Approved
			if err := s.Update(ctx, a, a.Version); err != nil {
				t.Fatal(err)
			}
			if loads, _ := rs.Loads(ctx, "org1"); fmt.Sprint(loads) != "map[alice:1]" {
				t.Fatalf("Loads after a task resolved = %v, want map[alice:1]", loads)
			}
			for i := range uint64(3) {
				if n, err := rs.Turn(ctx, "org1", "k"); err != nil || n != i {
					t.Fatalf("Turn #%d = %d, %v", i, n, err)
				}
			}
			if n, _ := rs.Turn(ctx, "org2", "k"); n != 0 {
				t.Fatalf("Turn in another org = %d, want 0", n)
			}
			if err := rs.PutAway(ctx, "org1", "alice", base.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := rs.PutAway(ctx, "org1", "bob", base.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			away, err := rs.Away(ctx, "org1", base)
			if err != nil || len(away) != 1 || !away["alice"].Equal(base.Add(time.Hour)) {
				t.Fatalf("Away = %v, %v; want alice until base+1h", away, err)
			}
			if away, _ := rs.Away(ctx, "org2", base); len(away) != 0 {
				t.Fatalf("Away leaks across orgs: %v", away)
			}
			if err := rs.PutAway(ctx, "org1", "alice", time.Time{}); err != nil {
				t.Fatal(err)
			}
			if away, _ := rs.Away(ctx, "org1", base); len(away) != 0 {
				t.Fatalf("Away after clearing = %v", away)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := rs.Turn(cctx, "org1", "k"); !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Turn with a cancelled context = %v", err)
			}
			if n, _ := rs.Turn(ctx, "org1", "k"); n != 3 {
				t.Fatalf("a cancelled Turn advanced the counter: %d", n)
			}
		})
	}

	t.Run("OrgIsolation", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, task("orgA", "t1", base, workforce.Pending))
		if _, err := s.Get(ctx, "orgB", "t1"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("orgB reads orgA's task: %v", err)
		}
		if got, _ := s.List(ctx, "orgB", workforce.Pending, 0); len(got) != 0 {
			t.Fatalf("orgB lists orgA's tasks: %s", queueIDs(got))
		}
		evil := task("orgB", "t1", base, workforce.Approved)
		if err := s.Update(ctx, evil, 1); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("orgB updates orgA's task: %v", err)
		}
		// The same ID in another org is a different task.
		mustCreate(t, s, task("orgB", "t1", base, workforce.Denied))
		if got, _ := s.Get(ctx, "orgA", "t1"); got.State != workforce.Pending {
			t.Fatalf("orgB's task changed orgA's: %s", got.State)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, task("org1", "t1", base, workforce.Pending))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		check := func(name string, err error) {
			t.Helper()
			if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
				t.Errorf("%s with cancelled ctx = %v, want ErrUnavailable wrapping context.Canceled", name, err)
			}
		}
		check("Create", s.Create(cctx, task("org1", "t2", base, workforce.Pending)))
		upd := task("org1", "t1", base, workforce.Approved)
		check("Update", s.Update(cctx, upd, 1))
		_, err := s.Get(cctx, "org1", "t1")
		check("Get", err)
		_, err = s.List(cctx, "org1", workforce.Pending, 0)
		check("List", err)
		_, err = s.Due(cctx, base.Add(48*time.Hour), 0)
		check("Due", err)
		if _, err := s.Get(ctx, "org1", "t2"); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("cancelled Create wrote the task: %v", err)
		}
		if got, _ := s.Get(ctx, "org1", "t1"); got.State != workforce.Pending || got.Version != 1 {
			t.Errorf("cancelled Update changed the task: %s v%d", got.State, got.Version)
		}
	})

	t.Run("ConcurrentUpdatesLoseNothing", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, task("org1", "t1", base, workforce.Pending))
		const n = 8
		var wg sync.WaitGroup
		errc := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					tk, err := s.Get(ctx, "org1", "t1")
					if err != nil {
						errc <- err
						return
					}
					tk.Approvals = append(tk.Approvals, workforce.Vote{Approver: fmt.Sprintf("h%d", i), Verdict: "approve", At: base})
					err = s.Update(ctx, tk, tk.Version)
					if errors.Is(err, errs.ErrConflict) {
						continue
					}
					errc <- err
					return
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.Get(ctx, "org1", "t1")
		if len(got.Approvals) != n || got.Version != n+1 {
			t.Fatalf("after %d concurrent CAS updates: %d votes, version %d; want %d votes, version %d",
				n, len(got.Approvals), got.Version, n, n+1)
		}
	})
}

// queueSameTask compares tasks field by field (times with Equal).
func queueSameTask(t *testing.T, got, want *workforce.Task) {
	t.Helper()
	g, w := *got, *want
	for _, p := range []*workforce.Task{&g, &w} {
		if !p.CreatedAt.Equal(want.CreatedAt) || !p.Deadline.Equal(want.Deadline) || !p.ResolvedAt.Equal(want.ResolvedAt) {
			t.Fatalf("times differ: got %v %v %v, want %v %v %v", got.CreatedAt, got.Deadline, got.ResolvedAt,
				want.CreatedAt, want.Deadline, want.ResolvedAt)
		}
		p.CreatedAt, p.Deadline, p.ResolvedAt = time.Time{}, time.Time{}, time.Time{}
		votes := make([]workforce.Vote, len(p.Approvals))
		copy(votes, p.Approvals)
		for i := range votes {
			votes[i].At = votes[i].At.UTC()
		}
		p.Approvals = votes
	}
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		t.Fatalf("task differs after round trip:\n got %s\nwant %s", gj, wj)
	}
}

func queueIDs(ts []*workforce.Task) string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return fmt.Sprint(ids)
}
