package workforce_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
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

// eventLog is a Recorder that is also an EventRecorder and a Notifier: it
// logs every attestation and notice as a line.
type eventLog struct {
	mu      sync.Mutex
	lines   []string
	notices []workforce.Notice
}

func (l *eventLog) add(s string) { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }

func (l *eventLog) Record(_ context.Context, t *workforce.Task, v *workforce.Vote) error {
	if v != nil {
		l.add(fmt.Sprintf("%s %s %s", t.State, v.Approver, v.Verdict))
	} else {
		l.add(fmt.Sprintf("%s -", t.State))
	}
	return nil
}

func (l *eventLog) RecordEvent(_ context.Context, t *workforce.Task, e workforce.Event) error {
	l.add(fmt.Sprintf("%s step%d %v", e.Type, e.Step, e.Recipients))
	return nil
}

func (l *eventLog) RecordRefusal(_ context.Context, t *workforce.Task, _ *passport.Envelope, reason error) error {
	l.add(fmt.Sprintf("refused %v", errs.Kind(reason)))
	return nil
}

func (l *eventLog) Notify(_ context.Context, n workforce.Notice) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notices = append(l.notices, n)
	return nil
}

func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func (l *eventLog) noticeTypes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, n := range l.notices {
		out = append(out, string(n.Event))
	}
	return out
}

// withLog rebuilds w's queue with an eventLog as recorder and notifier.
func (w *world) withLog(opts ...workforce.Option) *eventLog {
	l := &eventLog{}
	w.q = workforce.NewQueue(w.store, w.keys, w.graph, l, w.clock.Now, append([]workforce.Option{workforce.WithNotifier(l)}, opts...)...)
	return l
}

// board adds team "board" (erin, frank; frank nested through "execs") and
// capability "cfo.approve" held by gina.
func (w *world) board() {
	w.t.Helper()
	must := func(err error) {
		w.t.Helper()
		if err != nil {
			w.t.Fatal(err)
		}
	}
	for _, h := range []string{"erin", "frank", "gina"} {
		s, err := passport.GenerateEd25519()
		must(err)
		w.signers[h] = s
		w.keys.set(org, h, s.PublicKey())
		must(w.graph.AddNode(ctx, org, capability.Node{ID: h, Kind: capability.Human}))
	}
	must(w.graph.AddNode(ctx, org, capability.Node{ID: "board", Kind: capability.Team}))
	must(w.graph.AddNode(ctx, org, capability.Node{ID: "execs", Kind: capability.Team}))
	must(w.graph.AddMember(ctx, org, "erin", "board"))
	must(w.graph.AddMember(ctx, org, "execs", "board"))
	must(w.graph.AddMember(ctx, org, "frank", "execs"))
	must(w.graph.Grant(ctx, org, "gina", "cfo.approve"))
}

func (w *world) chainSpec() workforce.Spec {
	s := w.spec(1)
	s.Escalation = []workforce.Step{{Team: "board", Timeout: 30 * time.Minute}, {Capability: "cfo.approve", Timeout: 15 * time.Minute}}
	return s
}

func TestStateTransitions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  func(w *world) workforce.Spec
		run   func(w *world, tk *workforce.Task) (*workforce.Task, error)
		open  workforce.State
		final workforce.State
	}{
		{"pending -> approved", func(w *world) workforce.Spec { return w.spec(1) },
			func(w *world, tk *workforce.Task) (*workforce.Task, error) {
				return w.q.Decide(ctx, org, tk.ID, w.vote("bob", "bob", tk, "approve"))
			}, workforce.Pending, workforce.Approved},
		{"pending -> denied", func(w *world) workforce.Spec { return w.spec(2) },
			func(w *world, tk *workforce.Task) (*workforce.Task, error) {
				return w.q.Decide(ctx, org, tk.ID, w.vote("bob", "bob", tk, "deny"))
			}, workforce.Pending, workforce.Denied},
		{"pending -> timed_out (default on_timeout deny)", func(w *world) workforce.Spec { return w.spec(1) },
			func(w *world, tk *workforce.Task) (*workforce.Task, error) {
				w.clock.Advance(time.Hour)
				_, err := w.q.ExpireDue(ctx)
				return nil, err
			}, workforce.Pending, workforce.TimedOut},
		{"assigned -> approved", func(w *world) workforce.Spec { s := w.spec(1); s.Routing = workforce.LeastLoaded; return s },
			func(w *world, tk *workforce.Task) (*workforce.Task, error) {
				return w.q.Decide(ctx, org, tk.ID, w.vote(tk.Assignees[0], tk.Assignees[0], tk, "approve"))
			}, workforce.Assigned, workforce.Approved},
		{"pending -> escalated -> approved", func(w *world) workforce.Spec { return w.chainSpec() },
			func(w *world, tk *workforce.Task) (*workforce.Task, error) {
				w.clock.Advance(time.Hour)
				if _, err := w.q.ExpireDue(ctx); err != nil {
					return nil, err
				}
				if got, _ := w.q.Get(ctx, org, tk.ID); got.State != workforce.Escalated {
					return nil, fmt.Errorf("after step 0 deadline: %s, want escalated", got.State)
				}
				return w.q.Decide(ctx, org, tk.ID, w.vote("frank", "frank", tk, "approve"))
			}, workforce.Pending, workforce.Approved},
		{"escalated -> timed_out at the chain's end", func(w *world) workforce.Spec { return w.chainSpec() },
			func(w *world, tk *workforce.Task) (*workforce.Task, error) {
				w.clock.Advance(2 * time.Hour)
				_, err := w.q.ExpireDue(ctx)
				return nil, err
			}, workforce.Pending, workforce.TimedOut},
		{"pending -> cancelled", func(w *world) workforce.Spec { return w.spec(1) },
			func(w *world, tk *workforce.Task) (*workforce.Task, error) {
				return w.q.Cancel(ctx, org, tk.ID, "request withdrawn")
			}, workforce.Pending, workforce.Cancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.board()
			log := w.withLog()
			tk, err := w.q.Open(ctx, tc.spec(w))
			if err != nil {
				t.Fatal(err)
			}
			if tk.State != tc.open {
				t.Fatalf("opened as %s, want %s", tk.State, tc.open)
			}
			if _, err := tc.run(w, tk); err != nil {
				t.Fatal(err)
			}
			got, err := w.q.Get(ctx, org, tk.ID)
			if err != nil || got.State != tc.final || got.ResolvedAt.IsZero() {
				t.Fatalf("final = %+v, %v; want %s", got, err, tc.final)
			}
			if !tc.final.Final() || tc.final.Open() {
				t.Fatalf("%s should be final", tc.final)
			}
			// Every event is delivered exactly once, and a final task has
			// nothing left to wake for.
			if _, err := w.q.ExpireDue(ctx); err != nil {
				t.Fatal(err)
			}
			got, _ = w.q.Get(ctx, org, tk.ID)
			for _, e := range got.Events {
				if !e.Delivered() {
					t.Fatalf("event %+v not delivered", e)
				}
			}
			if !got.Wake.IsZero() {
				t.Fatalf("final task still wakes at %v", got.Wake)
			}
			if _, err := w.q.Cancel(ctx, org, tk.ID, "too late"); !errors.Is(err, errs.ErrFailedPrecondition) {
				t.Fatalf("Cancel on a final task = %v, want ErrFailedPrecondition", err)
			}
			resolutions := 0
			for _, l := range log.all() {
				if strings.HasPrefix(l, string(tc.final)+" ") {
					resolutions++
				}
			}
			if resolutions != 1 {
				t.Fatalf("resolution attested %d times, want once: %q", resolutions, log.all())
			}
		})
	}
}

func TestEscalationChain(t *testing.T) {
	w := newWorld(t)
	w.board()
	log := w.withLog()
	tk, err := w.q.Open(ctx, w.chainSpec())
	if err != nil {
		t.Fatal(err)
	}
	if !tk.Deadline.Equal(tk.CreatedAt.Add(time.Hour + 45*time.Minute)) {
		t.Fatalf("task deadline %v, want created + 1h45m (the whole chain)", tk.Deadline)
	}
	if !tk.StageDeadline().Equal(tk.CreatedAt.Add(time.Hour)) {
		t.Fatalf("step 0 deadline %v, want created + 1h", tk.StageDeadline())
	}
	w.clock.Advance(time.Hour)
	// A late vote by a step-0 approver meets the escalated task: refused,
	// not counted, attested as refused.
	if _, err := w.q.Decide(ctx, org, tk.ID, w.vote("alice", "alice", tk, "approve")); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("late vote by a step-0 approver = %v, want ErrFailedPrecondition", err)
	}
	got, _ := w.q.Get(ctx, org, tk.ID)
	if got.State != workforce.Escalated || got.Step != 1 || fmt.Sprint(got.Candidates) != "[erin frank]" || len(got.Approvals) != 0 {
		t.Fatalf("after step 0: %s step %d candidates %v votes %d", got.State, got.Step, got.Candidates, len(got.Approvals))
	}
	inbox, _ := w.q.Inbox(ctx, org, "frank")
	if len(inbox) != 1 {
		t.Fatalf("frank's inbox after escalation: %d tasks, want 1", len(inbox))
	}
	if inbox, _ := w.q.Inbox(ctx, org, "alice"); len(inbox) != 0 {
		t.Fatalf("alice still sees the escalated task")
	}
	w.clock.Advance(30 * time.Minute)
	if _, err := w.q.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = w.q.Get(ctx, org, tk.ID)
	if got.Step != 2 || fmt.Sprint(got.Candidates) != "[gina]" {
		t.Fatalf("after step 1: step %d candidates %v, want step 2 [gina]", got.Step, got.Candidates)
	}
	if _, err := w.q.Decide(ctx, org, tk.ID, w.vote("gina", "gina", tk, "deny")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"opened step0 [alice bob carol]",
		"refused failed precondition",
		"escalated step1 [erin frank]",
		"escalated step2 [gina]", // the clock jumped past step 1's warning and deadline at once: no stale warning

		"denied gina deny",
	}
	// The refusal is attested before the sweep delivers the escalation's
	// events (Decide fired the timer but delivered its own claim first).
	if got := log.all(); !sameSet(got, want) {
		t.Fatalf("attested %q, want (in any order) %q", got, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestWarningBeforeDeadline(t *testing.T) {
	w := newWorld(t)
	log := w.withLog()
	spec := w.spec(2)
	spec.WarnBefore = 10 * time.Minute
	tk, err := w.q.Open(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.q.Decide(ctx, org, tk.ID, w.vote("bob", "bob", tk, "approve")); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(49 * time.Minute)
	w.q.ExpireDue(ctx)
	if slices.Contains(log.noticeTypes(), "warning") {
		t.Fatal("warning before its time")
	}
	w.clock.Advance(time.Minute)
	for range 3 {
		if _, err := w.q.ExpireDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var warnings []workforce.Notice
	for _, n := range log.notices {
		if n.Event == workforce.EventWarning {
			warnings = append(warnings, n)
		}
	}
	if len(warnings) != 1 || fmt.Sprint(warnings[0].Recipients) != "[alice carol]" || !warnings[0].Deadline.Equal(tk.StageDeadline()) {
		t.Fatalf("warnings = %+v; want one, to those who have not voted, naming the deadline", warnings)
	}
	w.clock.Advance(10 * time.Minute)
	if n, _ := w.q.ExpireDue(ctx); n != 1 {
		t.Fatalf("ExpireDue at the deadline resolved %d, want 1", n)
	}
	got, _ := w.q.Get(ctx, org, tk.ID)
	if got.State != workforce.TimedOut || got.Resolution == "" {
		t.Fatalf("state %s resolution %q; want timed_out (not denied) with a reason", got.State, got.Resolution)
	}
	if !sameSet(log.noticeTypes(), []string{"opened", "vote", "warning", "timed_out"}) {
		t.Fatalf("notices %v", log.noticeTypes())
	}
}

func TestRoutingStrategies(t *testing.T) {
	setup := func(t *testing.T) *world {
		w := newWorld(t)
		// Levels: alice 3 (direct), treasury (bob, carol) 1.
		if err := w.graph.Grant(ctx, org, "alice", cap1, capability.WithLevel(3)); err != nil {
			t.Fatal(err)
		}
		if err := w.graph.Grant(ctx, org, "treasury", cap1, capability.WithLevel(1)); err != nil {
			t.Fatal(err)
		}
		return w
	}
	open := func(t *testing.T, w *world, s workforce.Strategy, quorum int) *workforce.Task {
		t.Helper()
		spec := w.spec(quorum)
		spec.Routing = s
		tk, err := w.q.Open(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	t.Run("least loaded spreads work, ties by level then ID", func(t *testing.T) {
		w := setup(t)
		var got []string
		for range 4 {
			got = append(got, fmt.Sprint(open(t, w, workforce.LeastLoaded, 1).Assignees))
		}
		// alice (level 3) first; then bob and carol (load 0, level 1, by ID);
		// then everyone has one: alice again by level.
		if want := []string{"[alice]", "[bob]", "[carol]", "[alice]"}; !slices.Equal(got, want) {
			t.Fatalf("assignees %v, want %v", got, want)
		}
	})
	t.Run("round robin takes turns by ID", func(t *testing.T) {
		w := setup(t)
		var got []string
		for range 4 {
			got = append(got, fmt.Sprint(open(t, w, workforce.RoundRobin, 1).Assignees))
		}
		if want := []string{"[alice]", "[bob]", "[carol]", "[alice]"}; !slices.Equal(got, want) {
			t.Fatalf("assignees %v, want %v", got, want)
		}
	})
	t.Run("highest level, ties by load then ID", func(t *testing.T) {
		w := setup(t)
		a := open(t, w, workforce.HighestLevel, 1)
		b := open(t, w, workforce.HighestLevel, 2)
		if fmt.Sprint(a.Assignees) != "[alice]" || fmt.Sprint(b.Assignees) != "[alice bob]" {
			t.Fatalf("assignees %v %v, want [alice] and [alice bob]", a.Assignees, b.Assignees)
		}
	})
	t.Run("only assignees may vote", func(t *testing.T) {
		w := setup(t)
		tk := open(t, w, workforce.HighestLevel, 1)
		checkRejected(t, w, tk, w.vote("bob", "bob", tk, "approve"), errs.ErrPermissionDenied)
		if inbox, _ := w.q.Inbox(ctx, org, "bob"); len(inbox) != 0 {
			t.Fatal("task assigned to alice is in bob's inbox")
		}
	})
	t.Run("all offers to every candidate", func(t *testing.T) {
		w := setup(t)
		tk := open(t, w, workforce.RouteAll, 1)
		if tk.State != workforce.Pending || tk.Assignees != nil || fmt.Sprint(tk.Voters()) != "[alice bob carol]" {
			t.Fatalf("state %s assignees %v voters %v", tk.State, tk.Assignees, tk.Voters())
		}
	})
	t.Run("unknown strategy", func(t *testing.T) {
		w := setup(t)
		spec := w.spec(1)
		spec.Routing = "random"
		if _, err := w.q.Open(ctx, spec); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Fatalf("Open = %v", err)
		}
	})
}

func TestPickDeterministic(t *testing.T) {
	cands := []workforce.Candidate{{Human: "a", Level: 1, Load: 2}, {Human: "b", Level: 2, Load: 2}, {Human: "c", Level: 2, Load: 0}, {Human: "d", Level: 0, Load: 0}}
	for _, tc := range []struct {
		s    workforce.Strategy
		n    int
		turn uint64
		want string
	}{
		{workforce.LeastLoaded, 1, 0, "[c]"},
		{workforce.LeastLoaded, 2, 0, "[c d]"},
		{workforce.HighestLevel, 1, 0, "[c]"},
		{workforce.HighestLevel, 2, 0, "[b c]"},
		{workforce.RoundRobin, 2, 3, "[a d]"},
		{workforce.RoundRobin, 1, 5, "[b]"},
		{workforce.RouteAll, 2, 0, "[]"},
		{workforce.LeastLoaded, 9, 0, "[a b c d]"},
	} {
		if got := fmt.Sprint(workforce.Pick(tc.s, cands, tc.n, tc.turn)); got != tc.want {
			t.Errorf("Pick(%s, %d, %d) = %s, want %s", tc.s, tc.n, tc.turn, got, tc.want)
		}
	}
}

func TestExclude(t *testing.T) {
	w := newWorld(t)
	spec := w.spec(1)
	spec.Exclude = []string{"alice"}
	tk, err := w.q.Open(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tk.Candidates) != "[bob carol]" {
		t.Fatalf("candidates %v, want alice excluded", tk.Candidates)
	}
	checkRejected(t, w, tk, w.vote("alice", "alice", tk, "approve"), errs.ErrPermissionDenied)
	spec.Exclude = []string{"treasury"} // a team: bob and carol
	if tk, err := w.q.Open(ctx, spec); err != nil || fmt.Sprint(tk.Candidates) != "[alice]" {
		t.Fatalf("excluding team treasury: %v, %v; want [alice]", tk, err)
	}
	spec.Exclude = []string{"alice", "bob", "carol"}
	if _, err := w.q.Open(ctx, spec); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("Open with everyone excluded = %v, want ErrFailedPrecondition", err)
	}
}

func TestAvailability(t *testing.T) {
	w := newWorld(t)
	away := func(who, signer string, a workforce.Availability) error {
		env, err := workforce.SignAvailability(w.signers[signer], a)
		if err != nil {
			return err
		}
		_, err = w.q.SetAvailability(ctx, org, env)
		return err
	}
	now := w.clock.Now()
	if err := away("bob", "bob", workforce.Availability{Org: org, Human: "bob", Away: true, Until: now.Add(2 * time.Hour), Created: now}); err != nil {
		t.Fatal(err)
	}
	if tk := w.open(1); fmt.Sprint(tk.Candidates) != "[alice carol]" {
		t.Fatalf("candidates %v, want bob away", tk.Candidates)
	}
	for _, tc := range []struct {
		name   string
		signer string
		a      workforce.Availability
		kind   error
	}{
		{"signed by someone else", "mallory", workforce.Availability{Org: org, Human: "carol", Away: true, Until: now.Add(time.Hour), Created: now}, errs.ErrUnauthenticated},
		{"other org", "carol", workforce.Availability{Org: "globex", Human: "carol", Away: true, Until: now.Add(time.Hour), Created: now}, errs.ErrPermissionDenied},
		{"stale replay", "carol", workforce.Availability{Org: org, Human: "carol", Away: true, Until: now.Add(time.Hour), Created: now.Add(-time.Hour)}, errs.ErrFailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := away("carol", tc.signer, tc.a); !errors.Is(err, tc.kind) {
				t.Fatalf("SetAvailability = %v, want %v", err, tc.kind)
			}
		})
	}
	if _, err := workforce.SignAvailability(w.signers["bob"], workforce.Availability{Org: org, Human: "bob", Away: true, Created: now}); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("away without until = %v", err)
	}
	if err := away("bob", "bob", workforce.Availability{Org: org, Human: "bob", Created: now}); err != nil {
		t.Fatal(err)
	}
	if tk := w.open(1); fmt.Sprint(tk.Candidates) != "[alice bob carol]" {
		t.Fatalf("candidates %v, want bob back", tk.Candidates)
	}
	w.clock.Advance(3 * time.Hour)
}

func FuzzDecodeAvailability(f *testing.F) {
	f.Add([]byte(`{"org":"acme","human":"bob","away":true,"until":"2030-01-01T00:00:00Z","created":"2029-12-31T00:00:00Z"}`))
	f.Add([]byte(`{"org":"acme","human":"bob","away":false,"created":"2029-12-31T00:00:00Z"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, err := workforce.DecodeAvailability(&passport.Envelope{PayloadType: workforce.AvailabilityType, Payload: payload})
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("error %v is not ErrInvalidArgument", err)
			}
			return
		}
		if a.Org == "" || a.Human == "" || a.Created.IsZero() || (a.Away && !a.Until.After(a.Created)) {
			t.Fatalf("accepted %+v", a)
		}
	})
}

// TestTimersRaceSharedSQLite: two queues, each with its own connection to
// one SQLite file, sweep the same due timers at once. Each escalation and
// each timeout is attested exactly once.
func TestTimersRaceSharedSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "race.db")
	dbA, dbB := openDB(t, path), openDB(t, path)
	w := newWorldOn(t, sqlite.NewQueueStore(dbA), sqlite.NewGraphStore(dbA))
	w.board()
	log := &eventLog{}
	qa := workforce.NewQueue(w.store, w.keys, w.graph, log, w.clock.Now, workforce.WithID("A"))
	qb := workforce.NewQueue(sqlite.NewQueueStore(dbB), w.keys, capability.NewGraph(sqlite.NewGraphStore(dbB), w.clock.Now), log, w.clock.Now, workforce.WithID("B"))
	const n = 12
	var ids []string
	for range n {
		tk, err := qa.Open(ctx, w.chainSpec())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.ID)
	}
	sweep := func() {
		var wg sync.WaitGroup
		for _, q := range []*workforce.Queue{qa, qb, qa, qb} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := q.ExpireDue(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	sweep() // opened events
	w.clock.Advance(time.Hour)
	sweep() // step 0 -> 1
	w.clock.Advance(30 * time.Minute)
	sweep() // step 1 -> 2
	w.clock.Advance(15 * time.Minute)
	sweep() // timed out
	count := map[string]int{}
	for _, l := range log.all() {
		count[strings.Fields(l)[0]]++
	}
	if count["opened"] != n || count["escalated"] != 2*n || count["timed_out"] != n || count["warning"] != 0 {
		t.Fatalf("attested %v; want opened %d, escalated %d, timed_out %d, no warnings (each deadline passed at once)", count, n, 2*n, n)
	}
	for _, id := range ids {
		got, err := qb.Get(ctx, org, id)
		if err != nil || got.State != workforce.TimedOut || got.Step != 2 {
			t.Fatalf("task %s: %+v, %v", id, got, err)
		}
	}
}

// TestEventRedeliveredAfterLeaseLapses: a queue that stored a vote but
// never attested it (it crashed) leaves the event claimed; once the claim
// lapses, another queue's sweep attests it, once.
func TestEventRedeliveredAfterLeaseLapses(t *testing.T) {
	w := newWorld(t)
	w.rec.failing = true // the first queue's ledger is down: as good as a crash
	tk := w.open(1)
	if _, err := w.q.Decide(ctx, org, tk.ID, w.vote("alice", "alice", tk, "approve")); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("Decide = %v", err)
	}
	log := &eventLog{}
	other := workforce.NewQueue(w.store, w.keys, w.graph, log, w.clock.Now, workforce.WithID("other"))
	if _, err := other.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(log.all(), "approved alice approve") {
		t.Fatal("another queue delivered an event while the claim was live")
	}
	w.clock.Advance(31 * time.Second)
	for range 2 {
		if _, err := other.ExpireDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := slices.DeleteFunc(log.all(), func(l string) bool { return strings.HasPrefix(l, "opened") })
	if !slices.Equal(got, []string{"approved alice approve"}) {
		t.Fatalf("attested %q, want the approval once, with the same outcome", got)
	}
}

func TestQueueOnMemoryHasNoRosterFallback(t *testing.T) {
	// A store without RosterStore still routes (round robin kept in the queue).
	w := newWorldOn(t, noRoster{memory.NewQueueStore()}, memory.NewGraphStore())
	spec := w.spec(1)
	spec.Routing = workforce.RoundRobin
	a, _ := w.q.Open(ctx, spec)
	b, _ := w.q.Open(ctx, spec)
	if fmt.Sprint(a.Assignees, b.Assignees) != "[alice] [bob]" {
		t.Fatalf("assignees %v %v", a.Assignees, b.Assignees)
	}
	env, _ := workforce.SignAvailability(w.signers["bob"], workforce.Availability{Org: org, Human: "bob", Created: w.clock.Now()})
	if _, err := w.q.SetAvailability(ctx, org, env); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("SetAvailability without a roster = %v", err)
	}
}

type noRoster struct{ workforce.Store }
