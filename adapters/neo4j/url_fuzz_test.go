package neo4j_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/humanos/human/adapters/neo4j"
	"github.com/humanos/human/errs"
)

// FuzzParseURL: no URL makes ParseURL panic, and every error it returns is
// ErrInvalidArgument.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"neo4j://127.0.0.1:7687?database=neo4j&namespace=t1", "bolt://user:pw@host:7687", "neo4j+s://h",
		"bolt://h?unknown=1", "neo4j://%zz", "bolt+ssc://h:1?namespace=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		if _, _, _, err := neo4j.ParseURL(u); err != nil && !errors.Is(err, errs.ErrInvalidArgument) {
			t.Fatalf("ParseURL(%q) = %v, want nil or ErrInvalidArgument", s, err)
		}
	})
}
