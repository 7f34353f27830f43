package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCacheMax bounds how many distinct query texts a DB keeps prepared.
// The hot statements are few (a generation read, the ledger's head read,
// and its multi-row INSERTs for the small batch sizes a group commit
// produces); past the bound a query is prepared per use as before.
const stmtCacheMax = 256

// stmtCache keeps prepared statements by query text. modernc.org/sqlite
// parses a statement on every Exec/Query that is not prepared; on the
// server's Call path that parse cost more than the statement's execution.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// stmt returns the prepared statement of query, preparing it once. It
// returns nil (the caller executes the text directly) for an in-memory
// database, whose single connection may be held by the caller's
// transaction, and when the cache is full.
func (d *DB) stmt(ctx context.Context, query string) *sql.Stmt {
	if d.path == ":memory:" {
		return nil
	}
	c := &d.stmts
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return st
	}
	st, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		st.Close()
		return prev
	}
	if len(c.m) >= stmtCacheMax {
		st.Close()
		return nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st
}

// txExec runs query in tx through its cached prepared statement.
func (d *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := d.stmt(ctx, query); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// txQueryRow runs query in tx through its cached prepared statement.
func (d *DB) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := d.stmt(ctx, query); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// queryRow runs query outside a transaction through its cached prepared
// statement.
func (d *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := d.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.db.QueryRowContext(ctx, query, args...)
}
