// Package errs is the one error vocabulary shared by every HUMAN package and
// adapter.
//
// Each sentinel has one meaning. Code wraps a sentinel once with context,
// usually through [Errorf], and callers test with errors.Is; no code in this
// module matches on error strings. Adapters map their backend's errors onto
// these sentinels in one place, so an app sees the same error for the same
// situation whichever store or profile it runs on.
package errs

import (
	"errors"
	"fmt"
)

// The sentinels. Their text is what a wrapped error starts with.
var (
	// ErrNotFound: the named thing does not exist (in this org).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the thing already exists, or a concurrent writer won
	// (a compare-and-swap lost); retrying after a re-read may succeed.
	ErrConflict = errors.New("conflict")
	// ErrInvalidArgument: the input is malformed or violates a rule that no
	// state change can fix (bad policy, bad signature encoding, empty ID).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnauthenticated: a signature or credential did not verify.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: the caller is known but not allowed (outside its
	// delegation scope, lacks a capability, wrong org).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrFailedPrecondition: the system is not in the state the operation
	// needs (task already resolved, passport revoked, delegation expired).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable: the backend could not be reached or the operation was
	// interrupted; nothing was changed and retrying may succeed.
	ErrUnavailable = errors.New("unavailable")
)

// Errorf returns an error that wraps kind (one of the sentinels) with a
// message formatted like fmt.Errorf. The message may itself wrap a cause
// with %w; both kind and that cause then satisfy errors.Is.
func Errorf(kind error, format string, args ...any) error {
	return &coded{kind: kind, err: fmt.Errorf(format, args...)}
}

type coded struct {
	kind error
	err  error
}

func (e *coded) Error() string { return e.kind.Error() + ": " + e.err.Error() }

func (e *coded) Unwrap() []error { return []error{e.kind, e.err} }

// Kind returns the sentinel that err wraps, or nil when it wraps none.
// Adapters report a cancelled context as ErrUnavailable wrapping ctx.Err(),
// so both errors.Is(err, ErrUnavailable) and errors.Is(err, context.Canceled)
// hold.
func Kind(err error) error {
	for _, k := range []error{ErrNotFound, ErrConflict, ErrInvalidArgument, ErrUnauthenticated,
		ErrPermissionDenied, ErrFailedPrecondition, ErrUnavailable} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}
