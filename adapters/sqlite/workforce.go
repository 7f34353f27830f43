package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/workforce"
)

func init() {
	migrations = append(migrations, migration{store: "workforce", version: 1, stmts: []string{
		`CREATE TABLE workforce_tasks (
			org      TEXT NOT NULL,
			id       TEXT NOT NULL,
			state    TEXT NOT NULL,
			created  TEXT NOT NULL, -- fixed-width UTC, sorts as time
			deadline TEXT NOT NULL, -- fixed-width UTC, sorts as time
			version  INTEGER NOT NULL,
			body     BLOB NOT NULL, -- the task as JSON
			PRIMARY KEY (org, id)
		) WITHOUT ROWID`,
		`CREATE INDEX workforce_tasks_list ON workforce_tasks (org, state, created, id)`,
		`CREATE INDEX workforce_tasks_due ON workforce_tasks (state, deadline, org, id)`,
	}})
}

// queueTimeLayout is fixed-width so that text order is time order.
const queueTimeLayout = "2006-01-02T15:04:05.000000000Z"

func queueTime(t time.Time) string { return t.UTC().Format(queueTimeLayout) }

// QueueStore is the SQLite workforce.Store: each task is a JSON blob with
// its org, id, state, times and version in indexed columns.
type QueueStore struct{ d *DB }

var _ workforce.Store = (*QueueStore)(nil)

// NewQueueStore returns the task store over db.
func NewQueueStore(db *DB) *QueueStore { return &QueueStore{d: db} }

func queueCtxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "sqlite queue store: %w", err)
	}
	return nil
}

// Create implements workforce.Store.
func (s *QueueStore) Create(ctx context.Context, t *workforce.Task) error {
	body, err := json.Marshal(t)
	if err != nil {
		return errs.Errorf(errs.ErrInvalidArgument, "task %s: %v", t.ID, err)
	}
	return s.d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO workforce_tasks (org, id, state, created, deadline, version, body)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.Org, t.ID, string(t.State), queueTime(t.CreatedAt), queueTime(t.Deadline), t.Version, body)
		if errs.Kind(mapErr(ctx, err)) == errs.ErrConflict {
			return errs.Errorf(errs.ErrConflict, "task %s exists in org %q", t.ID, t.Org)
		}
		return err
	})
}

// Get implements workforce.Store.
func (s *QueueStore) Get(ctx context.Context, org, id string) (*workforce.Task, error) {
	if err := queueCtxErr(ctx); err != nil {
		return nil, err
	}
	var body []byte
	err := s.d.db.QueryRowContext(ctx, `SELECT body FROM workforce_tasks WHERE org = ? AND id = ?`, org, id).Scan(&body)
	if err == sql.ErrNoRows {
		return nil, errs.Errorf(errs.ErrNotFound, "task %s in org %q", id, org)
	}
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	return queueDecode(body)
}

func queueDecode(body []byte) (*workforce.Task, error) {
	var t workforce.Task
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "sqlite queue store: decode task: %v", err)
	}
	return &t, nil
}

// Update implements workforce.Store.
func (s *QueueStore) Update(ctx context.Context, t *workforce.Task, expectedVersion int) error {
	prev := t.Version
	t.Version = expectedVersion + 1
	body, err := json.Marshal(t)
	if err != nil {
		t.Version = prev
		return errs.Errorf(errs.ErrInvalidArgument, "task %s: %v", t.ID, err)
	}
	err = s.d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE workforce_tasks SET state = ?, created = ?, deadline = ?, version = ?, body = ?
			WHERE org = ? AND id = ? AND version = ?`,
			string(t.State), queueTime(t.CreatedAt), queueTime(t.Deadline), t.Version, body, t.Org, t.ID, expectedVersion)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return nil
		}
		var version int
		err = tx.QueryRowContext(ctx, `SELECT version FROM workforce_tasks WHERE org = ? AND id = ?`, t.Org, t.ID).Scan(&version)
		if err == sql.ErrNoRows {
			return errs.Errorf(errs.ErrNotFound, "task %s in org %q", t.ID, t.Org)
		}
		if err != nil {
			return err
		}
		return errs.Errorf(errs.ErrConflict, "task %s is at version %d, not %d", t.ID, version, expectedVersion)
	})
	if err != nil {
		t.Version = prev
	}
	return err
}

// List implements workforce.Store.
func (s *QueueStore) List(ctx context.Context, org string, state workforce.State, limit int) ([]*workforce.Task, error) {
	return s.query(ctx, `SELECT body FROM workforce_tasks WHERE org = ? AND state = ? ORDER BY created, id LIMIT ?`,
		org, string(state), queueLimit(limit))
}

// Due implements workforce.Store.
func (s *QueueStore) Due(ctx context.Context, before time.Time, limit int) ([]*workforce.Task, error) {
	return s.query(ctx, `SELECT body FROM workforce_tasks WHERE state = ? AND deadline < ? ORDER BY deadline, org, id LIMIT ?`,
		string(workforce.Pending), queueTime(before), queueLimit(limit))
}

// queueLimit maps "no limit" (<= 0) to SQLite's -1.
func queueLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

func (s *QueueStore) query(ctx context.Context, q string, args ...any) ([]*workforce.Task, error) {
	if err := queueCtxErr(ctx); err != nil {
		return nil, err
	}
	rows, err := s.d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rows.Close()
	var out []*workforce.Task
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, mapErr(ctx, err)
		}
		t, err := queueDecode(body)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, mapErr(ctx, rows.Err())
}
