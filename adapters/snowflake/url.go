package snowflake

import (
	"context"
	"database/sql"
	"net/url"
	"strings"

	_ "github.com/snowflakedb/gosnowflake" // registers the "snowflake" database/sql driver

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
)

func init() { adapters.Register("snowflake", openURL) }

// OpenURL opens a LedgerStore for "snowflake://" followed by a gosnowflake
// DSN (USER[:PASSWORD]@ACCOUNT/DATABASE/SCHEMA?warehouse=W&role=R&...),
// plus this package's option table_prefix. The connection is checked.
func OpenURL(ctx context.Context, u *url.URL) (*LedgerStore, *sql.DB, error) {
	q := u.Query()
	prefix := q.Get("table_prefix")
	q.Del("table_prefix")
	c := *u
	c.RawQuery = q.Encode()
	dsn := strings.TrimPrefix(c.String(), "snowflake://")
	db, err := sql.Open("snowflake", dsn)
	if err != nil {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "snowflake URL %q: %v", u.Redacted(), err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, mapError(ctx, "connect", err)
	}
	s, err := Open(ctx, db, &Options{TablePrefix: prefix})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, db, nil
}

func openURL(ctx context.Context, u *url.URL) (*adapters.Stores, error) {
	s, db, err := OpenURL(ctx, u)
	if err != nil {
		return nil, err
	}
	return &adapters.Stores{Ledger: s, Close: db.Close}, nil
}
