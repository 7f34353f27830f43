package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/workforce"
)

// QueueStore is the PostgreSQL workforce.Store: each task is a JSON body
// with its org, id, state, times, version and assignees in columns.
// Updates are compare-and-swap on the version column, so replicas sharing
// the database never lose a vote and a timer fires once; the timer sweep
// (Due) reads across orgs through the human_due_tasks function (see the
// package doc, # Tenancy).
type QueueStore struct{ d *DB }

var (
	_ workforce.Store       = (*QueueStore)(nil)
	_ workforce.RosterStore = (*QueueStore)(nil)
)

// NewQueueStore returns the task store over d.
func NewQueueStore(d *DB) *QueueStore { return &QueueStore{d: d} }

var (
	queueMinTime = time.Unix(0, math.MinInt64)
	queueMaxTime = time.Unix(0, math.MaxInt64)
)

// queueTime is t in Unix nanoseconds, clamped to the int64 range (the zero
// time sorts first); it orders and filters, the body keeps the exact time.
func queueTime(t time.Time) int64 {
	switch {
	case t.Before(queueMinTime):
		return math.MinInt64
	case t.After(queueMaxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// queueWake is t's Wake column: NULL when it has no timer.
func queueWake(t *workforce.Task) *int64 {
	if t.Wake.IsZero() {
		return nil
	}
	w := queueTime(t.Wake)
	return &w
}

// queueAssignees keeps the column NOT NULL.
func queueAssignees(t *workforce.Task) []string {
	if t.Assignees == nil {
		return []string{}
	}
	return t.Assignees
}

func queueCtxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "postgres queue store: %w", err)
	}
	return nil
}

// Create implements workforce.Store.
func (s *QueueStore) Create(ctx context.Context, t *workforce.Task) error {
	if err := queueCtxErr(ctx); err != nil {
		return err
	}
	body, err := json.Marshal(t)
	if err != nil {
		return errs.Errorf(errs.ErrInvalidArgument, "task %s: %v", t.ID, err)
	}
	err = s.d.tx(ctx, t.Org, func(tx txn) error {
		_, err := tx.Exec(ctx, `INSERT INTO {S}.workforce_tasks (org, id, state, created, wake, version, assignees, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.Org, t.ID, string(t.State), queueTime(t.CreatedAt), queueWake(t), t.Version, queueAssignees(t), body)
		return err
	})
	if errs.Kind(err) == errs.ErrConflict {
		return errs.Errorf(errs.ErrConflict, "task %s exists in org %q", t.ID, t.Org)
	}
	return err
}

// Get implements workforce.Store.
func (s *QueueStore) Get(ctx context.Context, org, id string) (*workforce.Task, error) {
	ts, err := s.query(ctx, org, `SELECT body FROM {S}.workforce_tasks WHERE org = $1 AND id = $2`, org, id)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, errs.Errorf(errs.ErrNotFound, "task %s in org %q", id, org)
	}
	return ts[0], nil
}

// Update implements workforce.Store.
func (s *QueueStore) Update(ctx context.Context, t *workforce.Task, expectedVersion int) error {
	if err := queueCtxErr(ctx); err != nil {
		return err
	}
	prev := t.Version
	t.Version = expectedVersion + 1
	body, err := json.Marshal(t)
	if err != nil {
		t.Version = prev
		return errs.Errorf(errs.ErrInvalidArgument, "task %s: %v", t.ID, err)
	}
	err = s.d.tx(ctx, t.Org, func(tx txn) error {
		tag, err := tx.Exec(ctx, `UPDATE {S}.workforce_tasks SET state = $1, created = $2, wake = $3, version = $4, assignees = $5, body = $6
			WHERE org = $7 AND id = $8 AND version = $9`,
			string(t.State), queueTime(t.CreatedAt), queueWake(t), t.Version, queueAssignees(t), body, t.Org, t.ID, expectedVersion)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var version int
		err = tx.QueryRow(ctx, `SELECT version FROM {S}.workforce_tasks WHERE org = $1 AND id = $2`, t.Org, t.ID).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
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
	return s.query(ctx, org, `SELECT body FROM {S}.workforce_tasks WHERE org = $1 AND state = $2 ORDER BY created, id LIMIT $3`,
		org, string(state), queueLimit(limit))
}

// Due implements workforce.Store. It is the one cross-org read; it runs
// the SECURITY DEFINER function human_due_tasks.
func (s *QueueStore) Due(ctx context.Context, before time.Time, limit int) ([]*workforce.Task, error) {
	return s.query(ctx, "", `SELECT {S}.human_due_tasks($1, $2)`, queueTime(before), queueLimit(limit))
}

// Loads implements workforce.Store.
func (s *QueueStore) Loads(ctx context.Context, org string) (map[string]int, error) {
	out := map[string]int{}
	err := s.d.read(ctx, org, `SELECT h, count(*) FROM {S}.workforce_tasks, unnest(assignees) AS h
		WHERE org = $1 AND state = ANY($2) GROUP BY h`, []any{org, queueOpenStates},
		func(r pgx.Rows) error {
			var h string
			var n int
			if err := r.Scan(&h, &n); err != nil {
				return err
			}
			out[h] = n
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// queueOpenStates are the states workforce.State.Open reports.
var queueOpenStates = []string{string(workforce.Pending), string(workforce.Assigned), string(workforce.Escalated)}

// Turn implements workforce.Store.
func (s *QueueStore) Turn(ctx context.Context, org, key string) (uint64, error) {
	var n int64
	err := s.d.tx(ctx, org, func(tx txn) error {
		return tx.QueryRow(ctx, `INSERT INTO {S}.workforce_turns (org, key, n) VALUES ($1, $2, 1)
			ON CONFLICT (org, key) DO UPDATE SET n = workforce_turns.n + 1 RETURNING n - 1`, org, key).Scan(&n)
	})
	return uint64(n), err
}

// PutAway implements workforce.Store.
func (s *QueueStore) PutAway(ctx context.Context, org, human string, until time.Time) error {
	return s.d.tx(ctx, org, func(tx txn) error {
		if until.IsZero() {
			_, err := tx.Exec(ctx, `DELETE FROM {S}.workforce_away WHERE org = $1 AND human = $2`, org, human)
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO {S}.workforce_away (org, human, until_ns, until_text) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org, human) DO UPDATE SET until_ns = excluded.until_ns, until_text = excluded.until_text`,
			org, human, queueTime(until), until.Format(time.RFC3339Nano))
		return err
	})
}

// Away implements workforce.Store.
func (s *QueueStore) Away(ctx context.Context, org string, at time.Time) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	// until_ns is clamped, so compare exactly in Go after a coarse filter.
	err := s.d.read(ctx, org, `SELECT human, until_text FROM {S}.workforce_away WHERE org = $1 AND until_ns >= $2`,
		[]any{org, queueTime(at)}, func(r pgx.Rows) error {
			var h, text string
			if err := r.Scan(&h, &text); err != nil {
				return err
			}
			until, err := time.Parse(time.RFC3339Nano, text)
			if err != nil {
				return errs.Errorf(errs.ErrUnavailable, "postgres queue store: away %s: bad time %q: %v", h, text, err)
			}
			if until.After(at) {
				out[h] = until
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// queueLimit maps "no limit" (<= 0) to NULL, LIMIT ALL.
func queueLimit(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	l := int64(limit)
	return &l
}

func (s *QueueStore) query(ctx context.Context, org, q string, args ...any) ([]*workforce.Task, error) {
	var out []*workforce.Task
	err := s.d.read(ctx, org, q, args, func(r pgx.Rows) error {
		var body []byte
		if err := r.Scan(&body); err != nil {
			return err
		}
		var t workforce.Task
		if err := json.Unmarshal(body, &t); err != nil {
			return errs.Errorf(errs.ErrUnavailable, "postgres queue store: decode task: %v", err)
		}
		out = append(out, &t)
		return nil
	})
	return out, err
}
