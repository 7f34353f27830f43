package postgres_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// BenchmarkLedgerAppend measures attested-entry throughput through
// ledger.Log's group commit on PostgreSQL, as the application role: many
// goroutines each Append (submit and wait for the receipt). ns/op is per
// entry; entries/s is the throughput.
func BenchmarkLedgerAppend(b *testing.B) {
	for _, maxBatch := range []int{256, 1024} {
		b.Run(fmt.Sprintf("batch=%d", maxBatch), func(b *testing.B) {
			ctx := context.Background()
			d := newDB(b)
			signer, err := passport.GenerateEd25519()
			if err != nil {
				b.Fatal(err)
			}
			l, err := ledger.Open(ctx, postgres.NewLedgerStore(d), "acme", signer, &ledger.Options{MaxBatch: maxBatch})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			entry := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"` + fmt.Sprintf("%0300d", 0) + `"}`)
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Append(ctx, entry); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// whoCanApproveGraph loads a 100,000-edge org graph straight into a fresh
// schema (COPY, as the owner): 20,000 humans each in 4 of 2,000 teams,
// teams nested one level under 100 top teams, and 100 capabilities each
// held by 5 teams and 175 humans directly.
func whoCanApproveGraph(b *testing.B) (schema string, edges int) {
	b.Helper()
	ctx := context.Background()
	schema = newSchema(b)
	pool := sharedPool(b, ownerURLEnv)
	const humans, teams, caps = 20000, 2000, 100
	var nodes, es [][]any
	for i := range humans {
		nodes = append(nodes, []any{"acme", fmt.Sprintf("did:h:%05d", i), "human", ""})
		for k := range 4 {
			es = append(es, []any{"acme", fmt.Sprintf("did:h:%05d", i), "member_of", fmt.Sprintf("team.%04d", (i*7+k*500)%teams), 0, "", nil, ""})
		}
	}
	for i := range teams {
		nodes = append(nodes, []any{"acme", fmt.Sprintf("team.%04d", i), "team", ""})
		if i >= 100 {
			es = append(es, []any{"acme", fmt.Sprintf("team.%04d", i), "member_of", fmt.Sprintf("team.%04d", i%100), 0, "", nil, ""})
		}
	}
	for c := range caps {
		nodes = append(nodes, []any{"acme", fmt.Sprintf("cap.%03d", c), "capability", ""})
		for k := range 5 {
			es = append(es, []any{"acme", fmt.Sprintf("team.%04d", (c*13+k*401)%teams), "holds", fmt.Sprintf("cap.%03d", c), 0, "", nil, ""})
		}
		for k := range 175 {
			es = append(es, []any{"acme", fmt.Sprintf("did:h:%05d", (c*37+k*113)%humans), "holds", fmt.Sprintf("cap.%03d", c), 0, "", nil, ""})
		}
	}
	// Duplicate (from, kind, to) pairs would break the primary key.
	seen := map[string]bool{}
	uniq := es[:0]
	for _, e := range es {
		k := fmt.Sprint(e[1], e[2], e[3])
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, e)
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{schema, "capability_nodes"}, []string{"org", "id", "kind", "name"}, pgx.CopyFromRows(nodes)); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{schema, "capability_edges"},
		[]string{"org", "from_id", "kind", "to_id", "level", "expires", "expires_at", "issuer"}, pgx.CopyFromRows(uniq)); err != nil {
		b.Fatal(err)
	}
	for _, table := range []string{"capability_nodes", "capability_edges"} {
		if _, err := pool.Exec(ctx, `ANALYZE `+pgx.Identifier{schema, table}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
	return schema, len(uniq)
}

// BenchmarkWhoCanApprove asks "who can approve" (the humans holding a
// capability directly or through nested teams) on a 100,000-edge graph, as
// the application role: through capability.Graph (level by level, one
// InMany query per level) and through the store's one recursive query.
func BenchmarkWhoCanApprove(b *testing.B) {
	ctx := context.Background()
	schema, edges := whoCanApproveGraph(b)
	d := openApp(b, schema)
	store := postgres.NewGraphStore(d)
	g := capability.NewGraph(store, nil)
	// Both answers agree before anything is timed.
	hs, err := g.Holders(ctx, "acme", "cap.007")
	if err != nil {
		b.Fatal(err)
	}
	cte, err := store.Holders(ctx, "acme", "cap.007", time.Now(), 0)
	if err != nil {
		b.Fatal(err)
	}
	var a, c []string
	for _, h := range hs {
		a = append(a, h.Subject)
	}
	for _, h := range cte {
		c = append(c, h.Subject)
	}
	sort.Strings(a)
	if fmt.Sprint(a) != fmt.Sprint(c) {
		b.Fatalf("graph.Holders found %d, the recursive query %d", len(a), len(c))
	}
	b.Logf("%d edges; cap.007 has %d holders", edges, len(a))
	b.Run("graph.Holders", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := g.Holders(ctx, "acme", fmt.Sprintf("cap.%03d", i%100)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("recursive-cte", func(b *testing.B) {
		b.ReportAllocs()
		now := time.Now()
		for i := 0; b.Loop(); i++ {
			if _, err := store.Holders(ctx, "acme", fmt.Sprintf("cap.%03d", i%100), now, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
