package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/errs"
	"github.com/prometheus/client_golang/prometheus"
)

// ledgerIndexStub reports a fixed status and error.
type ledgerIndexStub struct {
	st  sqlite.LedgerIndexStatus
	err error
}

func (s *ledgerIndexStub) LedgerIndexStatus(context.Context) (sqlite.LedgerIndexStatus, error) {
	return s.st, s.err
}

// TestLedgerIndexCollector gathers the collector over reported statuses:
// failures per worker, backlog summed over logs, the failures still
// exported (and no backlog) when the backlog cannot be read, and a
// worker's new failures logged once with the last error.
func TestLedgerIndexCollector(t *testing.T) {
	failing := sqlite.WorkerStatus{Failures: 3, LastFailure: time.Now(), LastError: "database is locked"}
	for _, c := range []struct {
		name         string
		stub         ledgerIndexStub
		want         map[string]float64 // metric (with worker) -> value
		absent       []string
		logs, nologs []string
	}{
		{name: "healthy", stub: ledgerIndexStub{st: sqlite.LedgerIndexStatus{Logs: map[string]sqlite.LedgerIndexBacklog{
			"org-a": {Unmerged: 5, Runs: 2}, "org-b": {Unmerged: 1, Runs: 1}}}},
			want: map[string]float64{"human_ledger_index_failures_total/merger": 0, "human_ledger_index_failures_total/checkpointer": 0,
				"human_ledger_index_failures_total/index-checkpointer": 0, "human_ledger_index_unmerged_entries": 6, "human_ledger_index_runs": 3},
			nologs: []string{"failing"}},
		{name: "merger failing", stub: ledgerIndexStub{st: sqlite.LedgerIndexStatus{Merger: failing, Logs: map[string]sqlite.LedgerIndexBacklog{"org-a": {Unmerged: 4000}}}},
			want: map[string]float64{"human_ledger_index_failures_total/merger": 3, "human_ledger_index_failures_total/checkpointer": 0, "human_ledger_index_unmerged_entries": 4000},
			logs: []string{`"worker":"merger"`, "database is locked"}},
		{name: "backlog unreadable", stub: ledgerIndexStub{st: sqlite.LedgerIndexStatus{IndexCheckpointer: failing},
			err: errs.Errorf(errs.ErrFailedPrecondition, "ledger index file is corrupt")},
			want:   map[string]float64{"human_ledger_index_failures_total/index-checkpointer": 3},
			absent: []string{"human_ledger_index_unmerged_entries", "human_ledger_index_runs"},
			logs:   []string{`"worker":"index-checkpointer"`, "is corrupt"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			reg := prometheus.NewRegistry()
			reg.MustRegister(newLedgerIndexCollector(&c.stub, slog.New(slog.NewJSONHandler(&buf, nil))))
			var got map[string]float64
			for range 2 { // the second scrape logs nothing new
				got = gatherValues(t, reg)
			}
			for k, v := range c.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
			for _, k := range c.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s exported though the backlog could not be read", k)
				}
			}
			for _, s := range c.logs {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("log lacks %q:\n%s", s, buf.String())
				}
			}
			for _, s := range c.nologs {
				if strings.Contains(buf.String(), s) {
					t.Errorf("log has %q:\n%s", s, buf.String())
				}
			}
			if n := strings.Count(buf.String(), "background work failing"); n > 1 {
				t.Errorf("a worker's failures logged %d times over two scrapes, want once", n)
			}
		})
	}
}

// ledgerIndexHandle is one handle's reporter as sqlite.DB reports: its own
// workers' records always, the database's backlog (or backlogErr) only
// under a live context, counting the backlog reads.
type ledgerIndexHandle struct {
	workers    sqlite.LedgerIndexStatus
	logs       map[string]sqlite.LedgerIndexBacklog
	backlogErr error
	reads      int
}

func (h *ledgerIndexHandle) LedgerIndexStatus(ctx context.Context) (sqlite.LedgerIndexStatus, error) {
	st := h.workers
	if err := ctx.Err(); err != nil {
		return st, errs.Errorf(errs.ErrUnavailable, "stub: %w", err)
	}
	h.reads++
	if h.backlogErr != nil {
		return st, h.backlogErr
	}
	st.Logs = h.logs
	return st, nil
}

// TestLedgerIndexStatusOverHandles reads several handles on one database
// as one status: the workers' failures summed (the last error the latest
// one's), the database-wide backlog read once, from the first handle that
// can, never summed over handles; the error only when none could.
func TestLedgerIndexStatusOverHandles(t *testing.T) {
	t0 := time.Now()
	logs := map[string]sqlite.LedgerIndexBacklog{"org-a": {Unmerged: 7, Runs: 2}, "org-b": {Unmerged: 1}}
	closed := errs.Errorf(errs.ErrUnavailable, "sqlite: database is closed")
	corrupt := errs.Errorf(errs.ErrFailedPrecondition, "ledger index file is corrupt")
	early := sqlite.WorkerStatus{Failures: 2, LastFailure: t0, LastError: "database is locked"}
	late := sqlite.WorkerStatus{Failures: 1, LastFailure: t0.Add(time.Second), LastError: "disk I/O error"}
	for _, c := range []struct {
		name    string
		handles []*ledgerIndexHandle
		merger  sqlite.WorkerStatus
		checkp  uint64 // summed checkpointer failures
		logs    map[string]sqlite.LedgerIndexBacklog
		reads   []int // backlog reads per handle
		wantErr error
	}{
		{name: "none", handles: nil},
		{name: "one", handles: []*ledgerIndexHandle{{workers: sqlite.LedgerIndexStatus{Merger: early}, logs: logs}},
			merger: early, logs: logs, reads: []int{1}},
		{name: "three handles, backlog read once", handles: []*ledgerIndexHandle{
			{workers: sqlite.LedgerIndexStatus{Merger: early, Checkpointer: sqlite.WorkerStatus{Failures: 1}}, logs: logs},
			{workers: sqlite.LedgerIndexStatus{Merger: late}, logs: logs},
			{workers: sqlite.LedgerIndexStatus{Checkpointer: sqlite.WorkerStatus{Failures: 4}}, logs: logs}},
			merger: sqlite.WorkerStatus{Failures: 3, LastFailure: late.LastFailure, LastError: late.LastError},
			checkp: 5, logs: logs, reads: []int{1, 0, 0}},
		{name: "first handle closed", handles: []*ledgerIndexHandle{
			{workers: sqlite.LedgerIndexStatus{Merger: late}, backlogErr: closed},
			{workers: sqlite.LedgerIndexStatus{Merger: early}, logs: logs},
			{logs: logs}},
			merger: sqlite.WorkerStatus{Failures: 3, LastFailure: late.LastFailure, LastError: late.LastError},
			logs:   logs, reads: []int{1, 1, 0}},
		{name: "no handle reads the backlog", handles: []*ledgerIndexHandle{
			{workers: sqlite.LedgerIndexStatus{Merger: early}, backlogErr: corrupt},
			{workers: sqlite.LedgerIndexStatus{Merger: early}, backlogErr: closed}},
			merger:  sqlite.WorkerStatus{Failures: 4, LastFailure: early.LastFailure, LastError: early.LastError},
			reads:   []int{1, 1},
			wantErr: errs.ErrFailedPrecondition},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := make([]ledgerIndexReporter, len(c.handles))
			for i, h := range c.handles {
				rs[i] = h
			}
			st, err := ledgerIndexStatus(context.Background(), rs)
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if st.Merger != c.merger {
				t.Errorf("merger = %+v, want %+v", st.Merger, c.merger)
			}
			if st.Checkpointer.Failures != c.checkp {
				t.Errorf("checkpointer failures = %d, want %d", st.Checkpointer.Failures, c.checkp)
			}
			if !maps.Equal(st.Logs, c.logs) || (st.Logs == nil) != (c.logs == nil) {
				t.Errorf("logs = %v, want %v", st.Logs, c.logs)
			}
			for i, h := range c.handles {
				if h.reads != c.reads[i] {
					t.Errorf("handle %d read the backlog %d times, want %d", i, h.reads, c.reads[i])
				}
			}
		})
	}
}

// TestLedgerIndexCollectorOverHandles gathers a collector over two handles
// on one database: failures summed, the backlog not doubled; with no
// handle (no org open, or a ledger that is not SQLite) it exports nothing.
func TestLedgerIndexCollectorOverHandles(t *testing.T) {
	logs := map[string]sqlite.LedgerIndexBacklog{"org-a": {Unmerged: 5, Runs: 2}}
	for _, c := range []struct {
		name    string
		handles []ledgerIndexReporter
		want    map[string]float64
	}{
		{name: "no handles", want: map[string]float64{}},
		{name: "two handles", handles: []ledgerIndexReporter{
			&ledgerIndexHandle{workers: sqlite.LedgerIndexStatus{Merger: sqlite.WorkerStatus{Failures: 1}}, logs: logs},
			&ledgerIndexHandle{workers: sqlite.LedgerIndexStatus{Merger: sqlite.WorkerStatus{Failures: 2}}, logs: logs}},
			want: map[string]float64{"human_ledger_index_failures_total/merger": 3, "human_ledger_index_failures_total/checkpointer": 0,
				"human_ledger_index_failures_total/index-checkpointer": 0, "human_ledger_index_unmerged_entries": 5, "human_ledger_index_runs": 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(newLedgerIndexCollectorOf(func() []ledgerIndexReporter { return c.handles }, slog.New(slog.DiscardHandler)))
			if got := gatherValues(t, reg); !maps.Equal(got, c.want) {
				t.Errorf("gathered %v, want %v", got, c.want)
			}
		})
	}
}

// gatherValues scrapes reg and returns each metric's value keyed by its
// name and label values ("name/value/...").
func gatherValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "/" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return got
}
