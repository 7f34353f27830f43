package errs_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/humanos/human/errs"
)

func TestErrorfWrapsKindAndCause(t *testing.T) {
	err := errs.Errorf(errs.ErrNotFound, "passport %q: %w", "did:x", io.EOF)
	if !errors.Is(err, errs.ErrNotFound) || !errors.Is(err, io.EOF) {
		t.Fatalf("errors.Is failed for %v", err)
	}
	if errors.Is(err, errs.ErrConflict) {
		t.Fatal("matched the wrong kind")
	}
	if got, want := err.Error(), `not found: passport "did:x": EOF`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if errs.Kind(err) != errs.ErrNotFound {
		t.Fatalf("Kind = %v", errs.Kind(err))
	}
	if errs.Kind(io.EOF) != nil {
		t.Fatal("Kind of a foreign error must be nil")
	}
}

func TestCheckList(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		org   string
		limit int
		want  error
	}{
		{"ok", ctx, "acme", 1, nil},
		{"no org", ctx, "", 10, errs.ErrInvalidArgument},
		{"zero limit", ctx, "acme", 0, errs.ErrInvalidArgument},
		{"cancelled", cancelled, "acme", 10, errs.ErrUnavailable},
	} {
		err := errs.CheckList(tc.ctx, "test", tc.org, tc.limit)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: CheckList = %v, want %v", tc.name, err, tc.want)
		}
	}
}
