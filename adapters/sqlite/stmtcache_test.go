package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "human.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE stmt_t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	q := `SELECT count(*) FROM stmt_t WHERE k >= ?`
	if a, b := d.stmt(ctx, q), d.stmt(ctx, q); a == nil || a != b {
		t.Fatalf("stmt(%q) = %p then %p, want one prepared statement", q, a, b)
	}
	if d.stmt(ctx, `SELECT nonsense FROM`) != nil {
		t.Fatal("a statement that does not prepare was cached")
	}

	// Concurrent write transactions through cached statements: every row
	// lands once, and a transaction's reads see its own writes.
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- d.tx(ctx, func(tx *sql.Tx) error {
				if _, err := d.txExec(ctx, tx, `INSERT INTO stmt_t (k, v) VALUES (?, ?)`, g, "v"); err != nil {
					return err
				}
				var n int
				if err := d.txQueryRow(ctx, tx, `SELECT count(*) FROM stmt_t WHERE k = ?`, g).Scan(&n); err != nil || n != 1 {
					return fmt.Errorf("own write: n=%d err=%v", n, err)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := d.queryRow(ctx, q, 0).Scan(&n); err != nil || n != 32 {
		t.Fatalf("rows %d (%v), want 32", n, err)
	}

	// Past the bound, queries still run (unprepared) and the cache stops growing.
	for i := range stmtCacheMax + 10 {
		if err := d.queryRow(ctx, fmt.Sprintf(`SELECT count(*) + %d FROM stmt_t`, i)).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(d.stmts.m); got > stmtCacheMax {
		t.Fatalf("cache holds %d statements, bound %d", got, stmtCacheMax)
	}
}

// TestStmtCacheMemory: an in-memory database has one connection, which a
// transaction holds; the cache is off there, so nothing deadlocks.
func TestStmtCacheMemory(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.stmt(ctx, `SELECT 1`) != nil {
		t.Fatal("in-memory database cached a statement")
	}
	err = d.tx(ctx, func(tx *sql.Tx) error {
		var n int
		return d.txQueryRow(ctx, tx, `SELECT 1`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkGenerationRead compares the per-call generation read as it was
// (statement text parsed per query, database/sql's default of 2 idle
// connections) with the cached statement and 32 idle connections, under
// 32 concurrent readers:
//
//	go test -run '^$' -bench GenerationRead ./adapters/sqlite/
func BenchmarkGenerationRead(b *testing.B) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(b.TempDir(), "human.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if _, err := d.db.ExecContext(ctx, `INSERT INTO passport_generations (org, gen) VALUES ('acme', 7)`); err != nil {
		b.Fatal(err)
	}
	const q = `SELECT gen FROM passport_generations WHERE org = ?`
	for _, v := range []struct {
		name string
		idle int
		read func() *sql.Row
	}{
		{"text-idle2", 2, func() *sql.Row { return d.db.QueryRowContext(ctx, q, "acme") }},
		{"cached-idle32", 32, func() *sql.Row { return d.queryRow(ctx, q, "acme") }},
	} {
		b.Run(v.name, func(b *testing.B) {
			d.db.SetMaxIdleConns(v.idle)
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				var gen int64
				for pb.Next() {
					if err := v.read().Scan(&gen); err != nil || gen != 7 {
						b.Errorf("gen %d, %v", gen, err)
						return
					}
				}
			})
		})
	}
}
