package postgres

import (
	"context"
	"net/url"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
)

func init() {
	adapters.Register("postgres", openURL)
	adapters.Register("postgresql", openURL)
}

// passThrough are the URL options handed to pgxpool as they are.
var passThrough = []string{
	"application_name", "connect_timeout", "sslcert", "sslkey", "sslmode", "sslpassword", "sslrootcert",
	"sslsni", "target_session_attrs",
	"pool_health_check_period", "pool_max_conn_idle_time", "pool_max_conn_lifetime",
	"pool_max_conn_lifetime_jitter", "pool_max_conns", "pool_min_conns", "pool_min_idle_conns",
}

// ParseURL splits a postgres:// or postgresql:// store URL into the pgxpool
// configuration and this package's Options (see the package doc, # URLs).
// An unknown or repeated option, or a bad value, is errs.ErrInvalidArgument.
func ParseURL(u *url.URL) (*pgxpool.Config, *Options, error) {
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "postgres URL %q: scheme must be postgres or postgresql", u.Redacted())
	}
	if u.Opaque != "" {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "postgres URL %q: want postgres://user@host:port/database", u.Redacted())
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "postgres URL %q: %v", u.Redacted(), err)
	}
	var o Options
	rest := url.Values{}
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "postgres URL %q: option %q given %d times", u.Redacted(), k, len(vs))
		}
		v := vs[0]
		switch {
		case k == "schema":
			if v == "" || len(v) > 63 {
				return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "postgres URL %q: schema must be 1 to 63 bytes", u.Redacted())
			}
			o.Schema = v
		case k == "migrate":
			if v != MigrateApply && v != MigrateCheck {
				return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "postgres URL %q: migrate=%q (want %s or %s)", u.Redacted(), v, MigrateApply, MigrateCheck)
			}
			o.Migrate = v
		case slices.Contains(passThrough, k):
			rest.Set(k, v)
		default:
			return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "postgres URL %q: unknown option %q (known: schema, migrate, %v)", u.Redacted(), k, passThrough)
		}
	}
	c := *u
	c.Scheme = "postgres"
	c.RawQuery = rest.Encode()
	cfg, err := pgxpool.ParseConfig(c.String())
	if err != nil {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "postgres URL %q: %v", u.Redacted(), err)
	}
	return cfg, &o, nil
}

// OpenURL opens a pool for a postgres:// store URL and the DB over it; the
// DB's Close closes the pool.
func OpenURL(ctx context.Context, u *url.URL) (*DB, error) {
	cfg, o, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, o)
}

// OpenConfig opens a pool with cfg and the DB over it; the DB's Close
// closes the pool.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, o *Options) (*DB, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "postgres %s:%d: %v", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	d, err := Open(ctx, pool, o)
	if err != nil {
		pool.Close()
		return nil, err
	}
	d.ownsPool = true
	return d, nil
}

func openURL(ctx context.Context, u *url.URL) (*adapters.Stores, error) {
	d, err := OpenURL(ctx, u)
	if err != nil {
		return nil, err
	}
	return d.Stores(), nil
}
