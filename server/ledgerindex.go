package server

import (
	"context"
	"log/slog"
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

// ledgerIndexCollector exports a ledgerIndexReporter's status at scrape
// time: failures per worker, and the backlog summed over the logs (no log
// label: /metrics is public, and log names are org names).
type ledgerIndexCollector struct {
	r   ledgerIndexReporter
	log *slog.Logger

	failures, unmerged, runs *prometheus.Desc

	mu     sync.Mutex
	logged map[string]uint64 // failures per worker as of the last logged one
}

func newLedgerIndexCollector(r ledgerIndexReporter, log *slog.Logger) *ledgerIndexCollector {
	return &ledgerIndexCollector{r: r, log: log, logged: map[string]uint64{},
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
	ctx, cancel := context.WithTimeout(context.Background(), ledgerIndexTimeout)
	defer cancel()
	st, err := c.r.LedgerIndexStatus(ctx)
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
