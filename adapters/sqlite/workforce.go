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
	// Version 2: timers (wake), assignment loads, availability and
	// round-robin turns.
	migrations = append(migrations, migration{store: "workforce", version: 2, stmts: []string{
		`ALTER TABLE workforce_tasks ADD COLUMN wake TEXT NOT NULL DEFAULT ''`,
		`UPDATE workforce_tasks SET wake = deadline WHERE state = 'pending'`,
		`DROP INDEX workforce_tasks_due`,
		`CREATE INDEX workforce_tasks_wake ON workforce_tasks (wake, org, id) WHERE wake != ''`,
		`CREATE TABLE workforce_assignees (
			org   TEXT NOT NULL,
			human TEXT NOT NULL,
			task  TEXT NOT NULL,
			PRIMARY KEY (org, human, task)
		) WITHOUT ROWID`,
		`CREATE INDEX workforce_assignees_task ON workforce_assignees (org, task)`,
		`CREATE TABLE workforce_away (
			org   TEXT NOT NULL,
			human TEXT NOT NULL,
			until TEXT NOT NULL, -- fixed-width UTC
			PRIMARY KEY (org, human)
		) WITHOUT ROWID`,
		`CREATE TABLE workforce_turns (
			org TEXT NOT NULL,
			key TEXT NOT NULL,
			n   INTEGER NOT NULL,
			PRIMARY KEY (org, key)
		) WITHOUT ROWID`,
	}})
}

// queueWake is the wake column: ” for never.
func queueWake(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return queueTime(t)
}

// queuePutAssignees replaces the assignee rows of t: one per assignee
// while t is open, none once it is final.
func queuePutAssignees(ctx context.Context, tx *sql.Tx, t *workforce.Task) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM workforce_assignees WHERE org = ? AND task = ?`, t.Org, t.ID); err != nil {
		return err
	}
	if !t.State.Open() {
		return nil
	}
	for _, h := range t.Assignees {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO workforce_assignees (org, human, task) VALUES (?, ?, ?)`, t.Org, h, t.ID); err != nil {
			return err
		}
	}
	return nil
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
		_, err := tx.ExecContext(ctx, `INSERT INTO workforce_tasks (org, id, state, created, deadline, version, body, wake)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Org, t.ID, string(t.State), queueTime(t.CreatedAt), queueTime(t.Deadline), t.Version, body, queueWake(t.Wake))
		if errs.Kind(mapErr(ctx, err)) == errs.ErrConflict {
			return errs.Errorf(errs.ErrConflict, "task %s exists in org %q", t.ID, t.Org)
		}
		if err != nil {
			return err
		}
		return queuePutAssignees(ctx, tx, t)
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
		res, err := tx.ExecContext(ctx, `UPDATE workforce_tasks SET state = ?, created = ?, deadline = ?, version = ?, body = ?, wake = ?
			WHERE org = ? AND id = ? AND version = ?`,
			string(t.State), queueTime(t.CreatedAt), queueTime(t.Deadline), t.Version, body, queueWake(t.Wake), t.Org, t.ID, expectedVersion)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return queuePutAssignees(ctx, tx, t)
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
	return s.query(ctx, `SELECT body FROM workforce_tasks WHERE wake != '' AND wake < ? ORDER BY wake, org, id LIMIT ?`,
		queueTime(before), queueLimit(limit))
}

// Loads implements workforce.Store.
func (s *QueueStore) Loads(ctx context.Context, org string) (map[string]int, error) {
	if err := queueCtxErr(ctx); err != nil {
		return nil, err
	}
	rows, err := s.d.db.QueryContext(ctx, `SELECT human, count(*) FROM workforce_assignees WHERE org = ? GROUP BY human`, org)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var h string
		var n int
		if err := rows.Scan(&h, &n); err != nil {
			return nil, mapErr(ctx, err)
		}
		out[h] = n
	}
	return out, mapErr(ctx, rows.Err())
}

// Turn implements workforce.Store.
func (s *QueueStore) Turn(ctx context.Context, org, key string) (uint64, error) {
	var n int64
	err := s.d.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO workforce_turns (org, key, n) VALUES (?, ?, 1)
			ON CONFLICT (org, key) DO UPDATE SET n = n + 1 RETURNING n`, org, key).Scan(&n)
	})
	if err != nil {
		return 0, err
	}
	return uint64(n - 1), nil
}

// PutAway implements workforce.Store.
func (s *QueueStore) PutAway(ctx context.Context, org, human string, until time.Time) error {
	return s.d.tx(ctx, func(tx *sql.Tx) error {
		if until.IsZero() {
			_, err := tx.ExecContext(ctx, `DELETE FROM workforce_away WHERE org = ? AND human = ?`, org, human)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO workforce_away (org, human, until) VALUES (?, ?, ?)
			ON CONFLICT (org, human) DO UPDATE SET until = excluded.until`, org, human, queueTime(until))
		return err
	})
}

// Away implements workforce.Store.
func (s *QueueStore) Away(ctx context.Context, org string, at time.Time) (map[string]time.Time, error) {
	if err := queueCtxErr(ctx); err != nil {
		return nil, err
	}
	rows, err := s.d.db.QueryContext(ctx, `SELECT human, until FROM workforce_away WHERE org = ? AND until > ?`, org, queueTime(at))
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var h, u string
		if err := rows.Scan(&h, &u); err != nil {
			return nil, mapErr(ctx, err)
		}
		until, err := time.Parse(queueTimeLayout, u)
		if err != nil {
			return nil, errs.Errorf(errs.ErrUnavailable, "sqlite queue store: away %s: bad time %q", h, u)
		}
		out[h] = until
	}
	return out, mapErr(ctx, rows.Err())
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

var _ workforce.RosterStore = (*QueueStore)(nil)
