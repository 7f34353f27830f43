package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/testenv"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		ok      bool
		schema  string
		migrate string
		conns   int32
	}{
		{"postgres://u@h:5432/db", true, "", "", 0},
		{"postgresql://u:p@h/db?sslmode=disable", true, "", "", 0},
		{"postgres://u@h/db?schema=tenant_1&migrate=check", true, "tenant_1", postgres.MigrateCheck, 0},
		{"postgres://u@h/db?pool_max_conns=7&application_name=human", true, "", "", 7},
		{"postgres://u@h/db?migrate=none", false, "", "", 0},
		{"postgres://u@h/db?schema=", false, "", "", 0},
		{"postgres://u@h/db?bogus=1", false, "", "", 0},
		{"postgres://u@h/db?schema=a&schema=b", false, "", "", 0},
		{"postgres://u@h/db?pool_max_conns=lots", false, "", "", 0},
		{"postgres:opaque", false, "", "", 0},
		{"mysql://u@h/db", false, "", "", 0},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		cfg, o, err := postgres.ParseURL(u)
		if !tc.ok {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Errorf("ParseURL(%q) = %v, want ErrInvalidArgument", tc.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		if o.Schema != tc.schema || o.Migrate != tc.migrate {
			t.Errorf("ParseURL(%q) options = %+v", tc.url, o)
		}
		if tc.conns != 0 && cfg.MaxConns != tc.conns {
			t.Errorf("ParseURL(%q) MaxConns = %d", tc.url, cfg.MaxConns)
		}
	}
}

// FuzzParseURL: no input makes ParseURL panic, and every error it returns
// is ErrInvalidArgument.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"postgres://u@h/db?schema=x", "postgresql://h/db?migrate=apply&sslmode=disable", "postgres://%zz", "postgres://u@h/db?a=1&a=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		if _, _, err := postgres.ParseURL(u); err != nil && !errors.Is(err, errs.ErrInvalidArgument) {
			t.Fatalf("ParseURL(%q) = %v", s, err)
		}
	})
}

// TestOpenURL opens the stores through the scheme registry, as
// human.Open does, with every store present.
func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	raw := testenv.Require(t, appURLEnv) + "&migrate=check&schema=" + schema
	st, err := adapters.Open(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Passports == nil || st.Ledger == nil || st.Graph == nil || st.Policies == nil || st.Tasks == nil || st.Budgets == nil {
		t.Fatalf("stores missing: %+v", st)
	}
	if _, err := adapters.Open(ctx, "postgresql://127.0.0.1:1/none?connect_timeout=1&migrate=check"); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("Open of an unreachable server = %v, want ErrUnavailable", err)
	}
}
