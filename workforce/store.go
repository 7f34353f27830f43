package workforce

import (
	"context"
	"time"
)

// Store persists approval tasks. It keeps them as given: it never computes
// digests, verifies votes or decides states; [Queue] does. Implementations
// must be safe for concurrent use, including by several processes sharing
// one database.
//
// Tasks are org-namespaced: (Org, ID) identifies a task, and a task of one
// org is never returned by a call for another. Returned tasks are the
// caller's to modify; the store keeps its own copy.
//
// When ctx is already cancelled, or is cancelled before the operation
// commits, a method returns an error wrapping both errs.ErrUnavailable and
// ctx.Err(), and changes nothing.
type Store interface {
	// Create stores a new task. It returns errs.ErrConflict, and changes
	// nothing, if a task with the same Org and ID exists.
	Create(ctx context.Context, t *Task) error
	// Get returns the task, or errs.ErrNotFound.
	Get(ctx context.Context, org, id string) (*Task, error)
	// Update replaces the stored task (t.Org, t.ID) with t, provided its
	// stored Version equals expectedVersion (compare-and-swap). It stores
	// and sets t.Version = expectedVersion+1. It returns errs.ErrNotFound
	// if there is no such task and errs.ErrConflict, changing nothing, if
	// the version has moved.
	Update(ctx context.Context, t *Task, expectedVersion int) error
	// List returns org's tasks in that state, ordered by CreatedAt then ID,
	// at most limit of them (limit <= 0: all).
	List(ctx context.Context, org string, state State, limit int) ([]*Task, error)
	// Due returns pending tasks of every org whose Deadline is before
	// before, ordered by Deadline then Org then ID, at most limit of them
	// (limit <= 0: all).
	Due(ctx context.Context, before time.Time, limit int) ([]*Task, error)
}
