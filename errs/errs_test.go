package errs_test

import (
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
