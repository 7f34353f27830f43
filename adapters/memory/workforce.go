package memory

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/workforce"
)

// QueueStore is an in-memory workforce.Store, safe for concurrent use.
// Tasks are kept as their JSON encoding, so callers never share memory with
// the store.
type QueueStore struct {
	mu    sync.RWMutex
	tasks map[queueKey]*queueRow
	away  map[queueKey]time.Time // (org, human) -> until
	turns map[queueKey]uint64    // (org, key) -> counter
}

var _ workforce.Store = (*QueueStore)(nil)

type queueKey struct{ org, id string }

type queueRow struct {
	state     workforce.State
	created   time.Time
	wake      time.Time
	version   int
	assignees []string
	body      []byte
}

// NewQueueStore returns an empty task store.
func NewQueueStore() *QueueStore {
	return &QueueStore{tasks: map[queueKey]*queueRow{}, away: map[queueKey]time.Time{}, turns: map[queueKey]uint64{}}
}

func queueCtxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "memory queue store: %w", err)
	}
	return nil
}

func queueEncode(t *workforce.Task) (*queueRow, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "task %s: %v", t.ID, err)
	}
	return &queueRow{state: t.State, created: t.CreatedAt, wake: t.Wake, version: t.Version,
		assignees: slices.Clone(t.Assignees), body: b}, nil
}

func (r *queueRow) task() (*workforce.Task, error) {
	var t workforce.Task
	if err := json.Unmarshal(r.body, &t); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "memory queue store: decode task: %v", err)
	}
	return &t, nil
}

// Create implements workforce.Store.
func (s *QueueStore) Create(ctx context.Context, t *workforce.Task) error {
	if err := queueCtxErr(ctx); err != nil {
		return err
	}
	row, err := queueEncode(t)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := queueKey{t.Org, t.ID}
	if _, ok := s.tasks[k]; ok {
		return errs.Errorf(errs.ErrConflict, "task %s exists in org %q", t.ID, t.Org)
	}
	s.tasks[k] = row
	return nil
}

// Get implements workforce.Store.
func (s *QueueStore) Get(ctx context.Context, org, id string) (*workforce.Task, error) {
	if err := queueCtxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	row, ok := s.tasks[queueKey{org, id}]
	s.mu.RUnlock()
	if !ok {
		return nil, errs.Errorf(errs.ErrNotFound, "task %s in org %q", id, org)
	}
	return row.task()
}

// Update implements workforce.Store.
func (s *QueueStore) Update(ctx context.Context, t *workforce.Task, expectedVersion int) error {
	if err := queueCtxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := queueKey{t.Org, t.ID}
	old, ok := s.tasks[k]
	if !ok {
		return errs.Errorf(errs.ErrNotFound, "task %s in org %q", t.ID, t.Org)
	}
	if old.version != expectedVersion {
		return errs.Errorf(errs.ErrConflict, "task %s is at version %d, not %d", t.ID, old.version, expectedVersion)
	}
	prev := t.Version
	t.Version = expectedVersion + 1
	row, err := queueEncode(t)
	if err != nil {
		t.Version = prev
		return err
	}
	s.tasks[k] = row
	return nil
}

// List implements workforce.Store.
func (s *QueueStore) List(ctx context.Context, org string, state workforce.State, limit int) ([]*workforce.Task, error) {
	return s.query(ctx, limit, func(k queueKey, r *queueRow) bool { return k.org == org && r.state == state },
		func(a, b queueSorted) int {
			return cmp.Or(a.row.created.Compare(b.row.created), cmp.Compare(a.key.id, b.key.id))
		})
}

// Due implements workforce.Store.
func (s *QueueStore) Due(ctx context.Context, before time.Time, limit int) ([]*workforce.Task, error) {
	return s.query(ctx, limit, func(_ queueKey, r *queueRow) bool { return !r.wake.IsZero() && r.wake.Before(before) },
		func(a, b queueSorted) int {
			return cmp.Or(a.row.wake.Compare(b.row.wake), cmp.Compare(a.key.org, b.key.org), cmp.Compare(a.key.id, b.key.id))
		})
}

// Loads implements workforce.Store.
func (s *QueueStore) Loads(ctx context.Context, org string) (map[string]int, error) {
	if err := queueCtxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int{}
	for k, r := range s.tasks {
		if k.org == org && r.state.Open() {
			for _, h := range r.assignees {
				out[h]++
			}
		}
	}
	return out, nil
}

// Turn implements workforce.Store.
func (s *QueueStore) Turn(ctx context.Context, org, key string) (uint64, error) {
	if err := queueCtxErr(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.turns[queueKey{org, key}]
	s.turns[queueKey{org, key}] = n + 1
	return n, nil
}

// PutAway implements workforce.Store.
func (s *QueueStore) PutAway(ctx context.Context, org, human string, until time.Time) error {
	if err := queueCtxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if until.IsZero() {
		delete(s.away, queueKey{org, human})
	} else {
		s.away[queueKey{org, human}] = until
	}
	return nil
}

// Away implements workforce.Store.
func (s *QueueStore) Away(ctx context.Context, org string, at time.Time) (map[string]time.Time, error) {
	if err := queueCtxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]time.Time{}
	for k, until := range s.away {
		if k.org == org && until.After(at) {
			out[k.id] = until
		}
	}
	return out, nil
}

type queueSorted struct {
	key queueKey
	row *queueRow
}

func (s *QueueStore) query(ctx context.Context, limit int, match func(queueKey, *queueRow) bool, order func(a, b queueSorted) int) ([]*workforce.Task, error) {
	if err := queueCtxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var rows []queueSorted
	for k, r := range s.tasks {
		if match(k, r) {
			rows = append(rows, queueSorted{k, r})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(rows, order)
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	out := make([]*workforce.Task, 0, len(rows))
	for _, r := range rows {
		t, err := r.row.task()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

var _ workforce.RosterStore = (*QueueStore)(nil)
