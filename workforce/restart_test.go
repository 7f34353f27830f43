package workforce_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

// The restart tests run this test binary as a child process (env
// HUMAN_WF_CHILD names the role), kill it with SIGKILL, and start it again
// on the same SQLite file. The child attests by appending lines to a file,
// so the parent can count what was attested across processes.

const (
	childEnv   = "HUMAN_WF_CHILD"
	childDB    = "HUMAN_WF_DB"
	childLog   = "HUMAN_WF_LOG"
	childID    = "HUMAN_WF_ID"
	childLease = 300 * time.Millisecond
)

// seededSigner is a deterministic key per name, the same in every process.
func seededSigner(name string) *passport.Ed25519Signer {
	seed := sha256.Sum256([]byte("restart-test/" + name))
	return passport.NewEd25519Signer(ed25519.NewKeyFromSeed(seed[:]))
}

// restartWorld is the shared setup: graph and queue on one SQLite file.
type restartWorld struct {
	db    *sqlite.DB
	graph *capability.Graph
	keys  *keyring
}

func openRestartWorld(t testing.TB, path string) *restartWorld {
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	w := &restartWorld{db: db, graph: capability.NewGraph(sqlite.NewGraphStore(db), nil), keys: &keyring{keys: map[[2]string][]passport.PublicKey{}}}
	for _, h := range []string{"alice", "bob", "erin"} {
		w.keys.set(org, h, seededSigner(h).PublicKey())
	}
	return w
}

func (w *restartWorld) queue(rec workforce.Recorder, id string) *workforce.Queue {
	return workforce.NewQueue(sqlite.NewQueueStore(w.db), w.keys, w.graph, rec, nil, workforce.WithID(id), workforce.WithLease(childLease))
}

// fileLog attests by appending a line to a file and syncing it.
type fileLog struct {
	mu   sync.Mutex
	path string
	id   string
	hang bool // block forever inside Record: the process "crashes" there
}

func (l *fileLog) line(s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %s\n", s, l.id); err != nil {
		return err
	}
	return f.Sync()
}

func (l *fileLog) Record(_ context.Context, t *workforce.Task, v *workforce.Vote) error {
	if l.hang {
		l.line("hanging")
		select {}
	}
	if v != nil {
		return l.line(fmt.Sprintf("%s %s %s", t.State, v.Approver, v.Verdict))
	}
	return l.line(string(t.State) + " -")
}

func (l *fileLog) RecordEvent(_ context.Context, t *workforce.Task, e workforce.Event) error {
	return l.line(fmt.Sprintf("%s step%d", e.Type, e.Step))
}

func (l *fileLog) RecordRefusal(context.Context, *workforce.Task, *passport.Envelope, error) error {
	return nil
}

// TestRestartChild is the child process; it does nothing when run normally.
func TestRestartChild(t *testing.T) {
	role := os.Getenv(childEnv)
	if role == "" {
		t.Skip("child process of the restart tests")
	}
	w := openRestartWorld(t, os.Getenv(childDB))
	log := &fileLog{path: os.Getenv(childLog), id: os.Getenv(childID)}
	ctx := context.Background()
	switch {
	case role == "sweep":
		q := w.queue(log, os.Getenv(childID))
		for {
			if _, err := q.ExpireDue(ctx); err != nil {
				log.line("error " + strings.ReplaceAll(err.Error(), " ", "_"))
			}
			time.Sleep(10 * time.Millisecond)
		}
	case strings.HasPrefix(role, "vote-hang:"):
		log.hang = true
		q := w.queue(log, os.Getenv(childID))
		taskID := strings.TrimPrefix(role, "vote-hang:")
		tk, err := q.Get(ctx, org, taskID)
		if err != nil {
			t.Fatal(err)
		}
		env, err := workforce.SignVote(seededSigner("alice"), "alice", tk, "approve", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		q.Decide(ctx, org, taskID, env) // hangs in Record after the vote is stored
	}
}

type child struct {
	cmd *exec.Cmd
}

func startChild(t *testing.T, role, db, logPath, id string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartChild$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), childEnv+"="+role, childDB+"="+db, childLog+"="+logPath, childID+"="+id)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(c.kill)
	return c
}

// kill sends SIGKILL: no deferred code, no graceful close, as in a crash.
func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
}

func readLog(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "|"))
}

func waitLog(t *testing.T, path string, what string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if countLog(path, what) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("log never had %d %q lines: %q", n, what, readLog(path))
}

func countLog(path, prefix string) int {
	n := 0
	for _, l := range readLog(path) {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func restartSetup(t *testing.T) (db, logPath string, w *restartWorld) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	db, logPath = filepath.Join(dir, "human.db"), filepath.Join(dir, "attested.log")
	w = openRestartWorld(t, db)
	t.Cleanup(func() { w.db.Close() })
	ctx := context.Background()
	for _, n := range []capability.Node{{ID: "alice", Kind: capability.Human}, {ID: "bob", Kind: capability.Human},
		{ID: "erin", Kind: capability.Human}, {ID: "board", Kind: capability.Team}, {ID: agent, Kind: capability.Agent}} {
		if err := w.graph.AddNode(ctx, org, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.graph.Grant(ctx, org, "alice", cap1); err != nil {
		t.Fatal(err)
	}
	if err := w.graph.AddMember(ctx, org, "erin", "board"); err != nil {
		t.Fatal(err)
	}
	return db, logPath, w
}

// TestRestartSurvivesKill: a task's escalation chain keeps running across
// a killed process; after the restart, two processes sweep the same store
// at once, and each step fires exactly once.
func TestRestartSurvivesKill(t *testing.T) {
	db, logPath, w := restartSetup(t)
	q := w.queue(nil, "parent")
	tk, err := q.Open(context.Background(), workforce.Spec{Org: org, Agent: agent, Requester: "bob", Action: "pay", Capability: cap1,
		Timeout: 600 * time.Millisecond, Escalation: []workforce.Step{{Team: "board", Timeout: 2 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	first := startChild(t, "sweep", db, logPath, "first")
	waitLog(t, logPath, "escalated|step1", 1)
	// Kill once the escalation is marked delivered in the store. A kill
	// between the ledger append and that mark would be redelivered after
	// the lease (at-least-once in that window; TestRestartResumesRecording
	// covers the crash before the append).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got, err := q.Get(context.Background(), org, tk.ID)
		if err == nil && slices.ContainsFunc(got.Events, func(e workforce.Event) bool {
			return e.Type == workforce.EventEscalated && e.Delivered()
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("escalation never marked delivered: %+v, %v", got, err)
		}
	}
	first.kill()
	if got, _ := q.Get(context.Background(), org, tk.ID); got.State != workforce.Escalated {
		t.Fatalf("killed the first process after the chain ended (%s): the restart raced nothing", got.State)
	}
	// Restarted, twice over: both processes race for the same timers.
	startChild(t, "sweep", db, logPath, "second")
	startChild(t, "sweep", db, logPath, "third")
	waitLog(t, logPath, "timed_out", 1)
	time.Sleep(3 * childLease) // give a duplicate every chance to appear
	for prefix, want := range map[string]int{"opened|step0": 1, "escalated|step1": 1, "timed_out": 1, "error": 0} {
		if got := countLog(logPath, prefix); got != want {
			t.Fatalf("%q attested %d times, want %d: %q", prefix, got, want, readLog(logPath))
		}
	}
	got, err := q.Get(context.Background(), org, tk.ID)
	if err != nil || got.State != workforce.TimedOut || got.Step != 1 {
		t.Fatalf("task after restart: %+v, %v", got, err)
	}
}

// TestRestartResumesRecording: a process killed after storing the vote that
// reaches quorum, but before attesting it, leaves the outcome in the store;
// the restarted process attests it once, with the same outcome.
func TestRestartResumesRecording(t *testing.T) {
	db, logPath, w := restartSetup(t)
	q := w.queue(nil, "parent")
	tk, err := q.Open(context.Background(), workforce.Spec{Org: org, Agent: agent, Requester: "bob", Action: "pay", Capability: cap1, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	voter := startChild(t, "vote-hang:"+tk.ID, db, logPath, "voter")
	waitLog(t, logPath, "hanging", 1)
	voter.kill()
	got, err := q.Get(context.Background(), org, tk.ID)
	if err != nil || got.State != workforce.Approved {
		t.Fatalf("after the crash: %+v, %v; want approved in the store", got, err)
	}
	if countLog(logPath, "approved") != 0 {
		t.Fatal("approval attested before the crash")
	}
	startChild(t, "sweep", db, logPath, "restarted")
	waitLog(t, logPath, "approved|alice|approve", 1)
	time.Sleep(3 * childLease)
	if n := countLog(logPath, "approved"); n != 1 {
		t.Fatalf("approval attested %d times, want once: %q", n, readLog(logPath))
	}
	got, _ = q.Get(context.Background(), org, tk.ID)
	if got.State != workforce.Approved || !got.Events[len(got.Events)-1].Recorded {
		t.Fatalf("after the restart: %s, events %+v", got.State, got.Events)
	}
}
