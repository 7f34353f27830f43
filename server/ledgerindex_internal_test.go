package server

import (
	"bytes"
	"context"
	"log/slog"
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
			got := map[string]float64{}
			for range 2 { // the second scrape logs nothing new
				fams, err := reg.Gather()
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range fams {
					for _, m := range f.GetMetric() {
						key := f.GetName()
						for _, l := range m.GetLabel() {
							key += "/" + l.GetValue()
						}
						got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
					}
				}
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
