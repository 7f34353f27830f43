package s3_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/humanos/human/adapters/s3"
	"github.com/humanos/human/errs"
)

// FuzzParseURL: no URL makes ParseURL panic, and every error it returns is
// ErrInvalidArgument.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true",
		"s3://bucket", "s3://bucket/a/b?retention=24h", "s3://b?retention=-1h", "s3://?endpoint=%zz", "s3://b?unknown=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		if _, err := s3.ParseURL(u); err != nil && !errors.Is(err, errs.ErrInvalidArgument) {
			t.Fatalf("ParseURL(%q) = %v, want nil or ErrInvalidArgument", s, err)
		}
	})
}
