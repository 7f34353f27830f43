package neo4j

import (
	"context"
	"net/url"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
)

// Schemes are the URL schemes this package registers: the Neo4j driver's
// own (routing "neo4j", direct "bolt", each also with "+s" for TLS and
// "+ssc" for TLS with a self-signed certificate).
var Schemes = []string{"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}

func init() {
	for _, s := range Schemes {
		adapters.Register(s, openURL)
	}
}

// ParseURL splits a store URL into the driver's target URL, its
// authentication and this package's Options (see the package doc, #
// URLs). An unknown or repeated option is errs.ErrInvalidArgument.
func ParseURL(u *url.URL) (target string, auth neo4j.AuthToken, o *Options, err error) {
	if u.Host == "" || u.Opaque != "" {
		return "", auth, nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j URL %q: want %s://[USER:PASSWORD@]HOST[:PORT][?OPTIONS]", u.Redacted(), u.Scheme)
	}
	q, perr := url.ParseQuery(u.RawQuery)
	if perr != nil {
		return "", auth, nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j URL %q: %v", u.Redacted(), perr)
	}
	o = &Options{}
	for k, vs := range q {
		if len(vs) != 1 {
			return "", auth, nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j URL %q: option %q given %d times", u.Redacted(), k, len(vs))
		}
		switch k {
		case "database":
			o.Database = vs[0]
		case "namespace":
			o.Namespace = vs[0]
		default:
			return "", auth, nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j URL %q: unknown option %q (known: database, namespace)", u.Redacted(), k)
		}
	}
	auth = neo4j.NoAuth()
	if u.User != nil {
		pw, _ := u.User.Password()
		auth = neo4j.BasicAuth(u.User.Username(), pw, "")
	}
	t := url.URL{Scheme: u.Scheme, Host: u.Host}
	return t.String(), auth, o, nil
}

// OpenURL opens a driver for a neo4j:// or bolt:// store URL, checks that
// the server answers, and returns a Store whose Close closes the driver.
func OpenURL(ctx context.Context, u *url.URL) (*Store, error) {
	target, auth, o, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	d, err := neo4j.NewDriverWithContext(target, auth)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j URL %q: %v", u.Redacted(), err)
	}
	if err := d.VerifyConnectivity(ctx); err != nil {
		d.Close(context.WithoutCancel(ctx))
		return nil, mapError(ctx, "connect to "+u.Redacted(), err)
	}
	s, err := Open(ctx, d, o)
	if err != nil {
		d.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	s.close = true
	return s, nil
}

func openURL(ctx context.Context, u *url.URL) (*adapters.Stores, error) {
	s, err := OpenURL(ctx, u)
	if err != nil {
		return nil, err
	}
	return &adapters.Stores{Graph: s, Close: func() error { return s.Close(context.Background()) }}, nil
}
