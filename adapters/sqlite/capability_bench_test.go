package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/capability"
)

// graphNoBulk hides the store's BulkStore and GenerationStore methods: the
// per-node baseline.
type graphNoBulk struct{ capability.Store }

// bulkOnly keeps the store's BulkStore methods but hides GenerationStore:
// the uncached bulk walk.
func bulkOnly(s *sqlite.GraphStore) capability.Store {
	return struct {
		capability.Store
		capability.BulkStore
	}{s, s}
}

// load100k fills org "bench" with 20,000 humans, 1,000 teams (900 nested
// one level under 100 parents), 2,000 capabilities and 100,990 edges:
// each human in 2 teams and holding 2 capabilities, each team holding 19.
// Rows go in through a second connection in one transaction; the store
// under test only reads.
func load100k(tb testing.TB) (*sqlite.DB, int) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "graph.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	node, _ := tx.Prepare(`INSERT INTO capability_nodes (org, id, kind, name) VALUES ('bench', ?, ?, '')`)
	edge, _ := tx.Prepare(`INSERT OR IGNORE INTO capability_edges (org, from_id, kind, to_id, level, expires, issuer) VALUES ('bench', ?, ?, ?, ?, '', '')`)
	must := func(_ sql.Result, err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	const humans, teams, caps = 20000, 1000, 2000
	for i := range humans {
		must(node.Exec(fmt.Sprintf("h%05d", i), "human"))
	}
	for i := range teams {
		must(node.Exec(fmt.Sprintf("t%04d", i), "team"))
	}
	for i := range caps {
		must(node.Exec(fmt.Sprintf("c%04d", i), "capability"))
	}
	edges := 0
	add := func(from, kind, to string, level int) {
		must(edge.Exec(from, kind, to, level))
		edges++
	}
	for i := range humans {
		h := fmt.Sprintf("h%05d", i)
		add(h, "member_of", fmt.Sprintf("t%04d", (i*7)%teams), 0)
		add(h, "member_of", fmt.Sprintf("t%04d", (i*13+1)%teams), 0)
		add(h, "holds", fmt.Sprintf("c%04d", (i*3)%caps), i%4)
		add(h, "holds", fmt.Sprintf("c%04d", (i*11+5)%caps), i%3)
	}
	for i := 100; i < teams; i++ {
		add(fmt.Sprintf("t%04d", i), "member_of", fmt.Sprintf("t%04d", i%100), 0)
	}
	for i := range teams {
		for j := range 19 {
			add(fmt.Sprintf("t%04d", i), "holds", fmt.Sprintf("c%04d", (i*19+j*7)%caps), j%5)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return db, edges
}

// TestBulkMatchesPerNodeOn100k: the bulk path and the per-node fallback
// give identical answers on the benchmark graph.
func TestBulkMatchesPerNodeOn100k(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-edge graph")
	}
	db, _ := load100k(t)
	bulk := capability.NewGraph(sqlite.NewGraphStore(db), nil)
	single := capability.NewGraph(graphNoBulk{sqlite.NewGraphStore(db)}, nil)
	for _, c := range []string{"c0000", "c0007", "c0500", "c1999"} {
		a, err1 := bulk.Holders(context.Background(), "bench", c)
		b, err2 := single.Holders(context.Background(), "bench", c)
		if err1 != nil || err2 != nil || len(a) == 0 || !reflect.DeepEqual(a, b) {
			t.Fatalf("Holders(%s): bulk %d holders (%v), per-node %d (%v)", c, len(a), err1, len(b), err2)
		}
	}
}

// BenchmarkWhoCanApprove100kEdges: Graph.Holders on SQLite over 100,990
// edges, same run: "per-node" walks with one query per node, "bulk" with
// one query per level (both uncached, the old paths), "cached" answers
// from the Graph's cache checked against the org's write generation (one
// indexed read per call; the loop cycles through the 2,000 capabilities,
// so the first pass misses and later ones hit).
func BenchmarkWhoCanApprove100kEdges(b *testing.B) {
	db, edges := load100k(b)
	ctx := context.Background()
	for name, store := range map[string]capability.Store{
		"cached":   sqlite.NewGraphStore(db),
		"bulk":     bulkOnly(sqlite.NewGraphStore(db)),
		"per-node": graphNoBulk{sqlite.NewGraphStore(db)},
	} {
		g := capability.NewGraph(store, nil)
		b.Run(name, func(b *testing.B) {
			// 64 capabilities in turn; the cache is warmed before timing.
			capOf := func(i int) string { return fmt.Sprintf("c%04d", ((i%64)*37)%2000) }
			for i := range 64 {
				if _, err := g.Holders(ctx, "bench", capOf(i)); err != nil {
					b.Fatal(err)
				}
			}
			holders := 0
			i := 0
			for b.Loop() {
				hs, err := g.Holders(ctx, "bench", capOf(i))
				if err != nil {
					b.Fatal(err)
				}
				holders += len(hs)
				i++
			}
			b.ReportMetric(float64(holders)/float64(i), "holders/op")
			b.ReportMetric(float64(edges), "edges")
		})
	}
}
