package server

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/humanos/human/adapters/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// ledgerIndexReporter is a ledger store that reports the health of its
// query index's background work (adapters/sqlite: its merger and WAL
// checkpointers retry failures silently, so a scrape is where they show).
type ledgerIndexReporter interface {
	LedgerIndexStatus(ctx context.Context) (sqlite.LedgerIndexStatus, error)
}

// ledgerIndexTimeout bounds the status reads of one scrape.
const ledgerIndexTimeout = 2 * time.Second

// ledgerIndexCollector exports, at scrape time, the status of the
// ledgerIndexReporters its function returns then: failures per worker, and
// the backlog summed over the logs (no log label: /metrics is public, and
// log names are org names). A ledger node has one reporter; a default-role
// server has one per open org client, each its own handle on the same
// database file (ledgerIndexStatus), and none before an org is open or
// when the ledger is not SQLite, when it exports nothing.
type ledgerIndexCollector struct {
	reporters func() []ledgerIndexReporter
	log       *slog.Logger

	failures, unmerged, runs *prometheus.Desc

	mu     sync.Mutex
	logged map[string]uint64 // failures per worker as of the last logged one
}

// newLedgerIndexCollector returns the collector of one reporter.
func newLedgerIndexCollector(r ledgerIndexReporter, log *slog.Logger) *ledgerIndexCollector {
	return newLedgerIndexCollectorOf(func() []ledgerIndexReporter { return []ledgerIndexReporter{r} }, log)
}

// newLedgerIndexCollectorOf returns the collector of the reporters that
// reporters returns at each scrape.
func newLedgerIndexCollectorOf(reporters func() []ledgerIndexReporter, log *slog.Logger) *ledgerIndexCollector {
	return &ledgerIndexCollector{reporters: reporters, log: log, logged: map[string]uint64{},
		failures: prometheus.NewDesc("human_ledger_index_failures_total",
			"Failed passes of the SQLite ledger index's background workers (each retried by the next pass).", []string{"worker"}, nil),
		unmerged: prometheus.NewDesc("human_ledger_index_unmerged_entries",
			"Ledger entries whose index postings still wait in the main SQLite database for the merger.", nil, nil),
		runs: prometheus.NewDesc("human_ledger_index_runs",
			"Merged runs of the SQLite ledger index not yet compacted into postings.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *ledgerIndexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.failures
	ch <- c.unmerged
	ch <- c.runs
}

// Collect implements prometheus.Collector. The workers' failures are
// exported even when the backlog cannot be read (an unreadable index file
// is when they matter); a worker's new failures are logged with its last
// error, the one place the message shows.
func (c *ledgerIndexCollector) Collect(ch chan<- prometheus.Metric) {
	rs := c.reporters()
	if len(rs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ledgerIndexTimeout)
	defer cancel()
	st, err := ledgerIndexStatus(ctx, rs)
	for _, w := range []struct {
		name string
		s    sqlite.WorkerStatus
	}{{"merger", st.Merger}, {"checkpointer", st.Checkpointer}, {"index-checkpointer", st.IndexCheckpointer}} {
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(w.s.Failures), w.name)
		c.mu.Lock()
		fresh := w.s.Failures > c.logged[w.name]
		c.logged[w.name] = max(c.logged[w.name], w.s.Failures)
		c.mu.Unlock()
		if fresh {
			c.log.Warn("ledger index background work failing", "worker", w.name, "failures", w.s.Failures,
				"last_failure", w.s.LastFailure, "err", w.s.LastError)
		}
	}
	if err != nil {
		c.log.Warn("reading the ledger index status", "err", err)
		return
	}
	var unmerged, runs int64
	for _, b := range st.Logs {
		unmerged += b.Unmerged
		runs += b.Runs
	}
	ch <- prometheus.MustNewConstMetric(c.unmerged, prometheus.GaugeValue, float64(unmerged))
	ch <- prometheus.MustNewConstMetric(c.runs, prometheus.GaugeValue, float64(runs))
}

// ledgerIndexStatus reads rs, handles on ONE database file, as one status.
// Each handle runs its own workers, so their failures add up (the last
// failure and its error are the latest of any handle). The backlog is the
// file's, the same through every handle, so it is read once: from the
// first handle that reads it; the others are asked with a cancelled
// context, under which a reporter returns its workers' records without
// reading the backlog (sqlite.DB.LedgerIndexStatus), so a scrape costs one
// backlog read however many orgs are open. The error is the first
// handle's when no handle could read the backlog.
//
// The handles cannot name their file (neither the store nor its status
// gives a path); that they share one holds because every org client of a
// Server opens the same Config.Library store URLs.
func ledgerIndexStatus(ctx context.Context, rs []ledgerIndexReporter) (sqlite.LedgerIndexStatus, error) {
	var sum sqlite.LedgerIndexStatus
	var first error
	read := false
	done, cancel := context.WithCancel(ctx)
	cancel()
	for _, r := range rs {
		rctx := done
		if !read {
			rctx = ctx
		}
		st, err := r.LedgerIndexStatus(rctx)
		addWorkerStatus(&sum.Merger, st.Merger)
		addWorkerStatus(&sum.Checkpointer, st.Checkpointer)
		addWorkerStatus(&sum.IndexCheckpointer, st.IndexCheckpointer)
		switch {
		case read:
		case err != nil:
			if first == nil {
				first = err
			}
		default:
			sum.Logs, read = st.Logs, true
		}
	}
	if !read {
		return sum, first
	}
	return sum, nil
}

// addWorkerStatus adds w's failures to sum's, keeping the later failure.
func addWorkerStatus(sum *sqlite.WorkerStatus, w sqlite.WorkerStatus) {
	sum.Failures += w.Failures
	if w.LastFailure.After(sum.LastFailure) {
		sum.LastFailure, sum.LastError = w.LastFailure, w.LastError
	}
}

// ledgerIndexReporters returns, in org order, the ledger stores of the org
// clients open now that report a SQLite index's health.
func (s *Server) ledgerIndexReporters() []ledgerIndexReporter {
	open := s.openClients()
	var rs []ledgerIndexReporter
	for _, org := range slices.Sorted(maps.Keys(open)) {
		l := open[org].Ledger() // nil for a remote-profile client (the server never opens one)
		if l == nil {
			continue
		}
		if r, ok := l.Store().(ledgerIndexReporter); ok {
			rs = append(rs, r)
		}
	}
	return rs
}
