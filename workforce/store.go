package workforce

import (
	"context"
	"time"
)

// Store persists approval tasks. It keeps tasks as
// given: it never computes digests, verifies votes, fires timers or decides
// states; [Queue] does. Implementations must be safe for concurrent use,
// including by several processes sharing one database.
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
	// the version has moved. This compare-and-swap is what makes a timer
	// fire once when several queues share the store: only one update from
	// a given version succeeds.
	Update(ctx context.Context, t *Task, expectedVersion int) error
	// List returns org's tasks in that state, ordered by CreatedAt then ID,
	// at most limit of them (limit <= 0: all).
	List(ctx context.Context, org string, state State, limit int) ([]*Task, error)
	// Due returns the tasks of every org whose Wake is non-zero and before
	// before, ordered by Wake then Org then ID, at most limit of them
	// (limit <= 0: all).
	Due(ctx context.Context, before time.Time, limit int) ([]*Task, error)
}

// RosterStore is an optional extension of [Store] holding the small
// routing state around tasks: open-task loads, round-robin turns and
// availability. A store without it routes as if nobody were away and
// everybody equally loaded, with round-robin turns kept per process, and
// refuses availability changes (errs.ErrFailedPrecondition). The memory
// and sqlite stores implement it.
//
// Contexts and errors are as for [Store].
type RosterStore interface {
	// Loads returns, for org, how many tasks in an open state (Pending,
	// Assigned, Escalated) list each human in Assignees. Humans with no
	// such task are absent.
	Loads(ctx context.Context, org string) (map[string]int, error)
	// Turn atomically increments org's round-robin counter named key
	// (created at 0) and returns the value it had before.
	Turn(ctx context.Context, org, key string) (uint64, error)
	// PutAway records that human is away until until (a zero until clears
	// it), replacing any earlier record.
	PutAway(ctx context.Context, org, human string, until time.Time) error
	// Away returns the humans of org whose away record runs past at, with
	// their until times.
	Away(ctx context.Context, org string, at time.Time) (map[string]time.Time, error)
}
