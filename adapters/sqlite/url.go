package sqlite

import (
	"context"
	"net/url"
	"path/filepath"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
)

func init() { adapters.Register("sqlite", openURL) }

// PathFromURL returns the file path a sqlite URL names:
// "sqlite:///abs/file.db" is absolute, "sqlite://rel/file.db" and
// "sqlite:rel/file.db" are relative to the working directory.
func PathFromURL(u *url.URL) (string, error) {
	var p string
	switch {
	case u.Opaque != "":
		p = u.Opaque
	case u.Host != "":
		p = filepath.Join(u.Host, u.Path)
	default:
		p = u.Path
	}
	if p == "" || p == "/" {
		return "", errs.Errorf(errs.ErrInvalidArgument, "sqlite URL %q names no file (want sqlite:///path/to/human.db)", u.Redacted())
	}
	if u.RawQuery != "" {
		return "", errs.Errorf(errs.ErrInvalidArgument, "sqlite URL %q: no query options are supported", u.Redacted())
	}
	return filepath.Clean(p), nil
}

// Stores returns every store of this package over db.
func (d *DB) Stores() *adapters.Stores {
	return &adapters.Stores{
		Passports: NewPassportStore(d),
		Ledger:    NewLedgerStore(d),
		Graph:     NewGraphStore(d),
		Policies:  NewPolicyStore(d),
		Budgets:   NewBudgetStore(d),
		Tasks:     NewQueueStore(d),
		Close:     d.Close,
	}
}

func openURL(ctx context.Context, u *url.URL) (*adapters.Stores, error) {
	p, err := PathFromURL(u)
	if err != nil {
		return nil, err
	}
	db, err := Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return db.Stores(), nil
}
