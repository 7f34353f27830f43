package remote_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters"
	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/server"
)

// ledgerNode starts an in-process ledger node over store, with key as the
// admin credential of orgs, and returns its base URL.
func ledgerNode(t testing.TB, store string, key passport.Signer, orgs ...string) string {
	t.Helper()
	admins := map[string][]passport.PublicKey{}
	for _, org := range orgs {
		admins[org] = []passport.PublicKey{key.PublicKey()}
	}
	s, err := server.New(context.Background(), server.Config{Role: server.RoleLedger, Admins: admins,
		Library: human.Config{Store: store, DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return hs.URL
}

// The remote ledger store passes the same conformance suite as the
// embedded stores, against a real ledger node on memory and on SQLite.
func TestLedgerStoreConformance(t *testing.T) {
	orgs := []string{"acme", "org-a", "org-b", "org-c"}
	for name, store := range map[string]func(t *testing.T) string{
		"memory": func(*testing.T) string { return "mem://" },
		"sqlite": func(t *testing.T) string {
			return "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "node.db"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			adaptertest.RunLedgerStore(t, func(t *testing.T) ledger.Store {
				key, err := passport.GenerateEd25519()
				if err != nil {
					t.Fatal(err)
				}
				base := ledgerNode(t, store(t), key, orgs...)
				s, err := remote.NewLedgerStore(remote.Options{BaseURL: base, Signer: key})
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// TestLedgerStoreURL: the human+http(s) schemes open a LedgerStore; bad
// options are refused before anything is sent.
func TestLedgerStoreURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key, _ := passport.GenerateEd25519()
	keyFile := filepath.Join(dir, "cp.pem")
	if err := passport.WriteKeyFile(keyFile, key); err != nil {
		t.Fatal(err)
	}
	base := ledgerNode(t, "mem://", key, "acme")
	u, _ := url.Parse(base)
	good := "human+http://" + u.Host + "?key_file=" + url.QueryEscape(keyFile) + "&timeout=5s"
	st, err := adapters.Open(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Ledger.Append(ctx, "acme", 0, [][]byte{[]byte("e0")}, nil, []byte("cp 1")); err != nil {
		t.Fatal(err)
	}
	if size, cp, err := st.Ledger.Head(ctx, "acme"); err != nil || size != 1 || string(cp) != "cp 1" {
		t.Fatalf("Head = %d %q %v", size, cp, err)
	}
	// A log the node does not list this key for is refused.
	if _, _, err := st.Ledger.Head(ctx, "other"); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("Head of an unlisted org: %v, want ErrUnauthenticated", err)
	}
	for _, bad := range []string{
		"human+http://" + u.Host,
		"human+http://" + u.Host + "?key_file=" + url.QueryEscape(keyFile) + "&pool=3",
		"human+http://" + u.Host + "?key_file=" + url.QueryEscape(keyFile) + "&timeout=-1s",
		"human+http://user:pw@" + u.Host + "?key_file=" + url.QueryEscape(keyFile),
	} {
		if _, err := adapters.Open(ctx, bad); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("Open(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	if _, err := adapters.Open(ctx, "human+http://"+u.Host+"?key_file="+url.QueryEscape(filepath.Join(dir, "missing.pem"))); err == nil {
		t.Error("a missing key file opened")
	}
}

// TestAttackLedgerNodeRewrite: a control plane (or anyone holding its key)
// cannot rewrite, truncate or fork a log the node keeps: every append
// that does not extend the current head is ErrConflict and writes nothing;
// and it cannot touch the log of an org the node does not list it for.
func TestAttackLedgerNodeRewrite(t *testing.T) {
	ctx := context.Background()
	cp, _ := passport.GenerateEd25519()
	other, _ := passport.GenerateEd25519()
	base := ledgerNode(t, "mem://", cp, "acme")
	s, err := remote.NewLedgerStore(remote.Options{BaseURL: base, Signer: cp})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, "acme", 0, [][]byte{[]byte("e0"), []byte("e1")}, nil, []byte("cp 2")); err != nil {
		t.Fatal(err)
	}
	for _, size := range []uint64{0, 1, 3} {
		if err := s.Append(ctx, "acme", size, [][]byte{[]byte("forged")}, nil, []byte("forged cp")); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("append at size %d over a log of 2: %v, want ErrConflict", size, err)
		}
	}
	intruder, _ := remote.NewLedgerStore(remote.Options{BaseURL: base, Signer: other})
	if err := intruder.Append(ctx, "acme", 2, [][]byte{[]byte("x")}, nil, []byte("x")); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("append with an unlisted key: %v, want ErrUnauthenticated", err)
	}
	got, err := s.Entries(ctx, "acme", 0, 2)
	if err != nil || string(got[0]) != "e0" || string(got[1]) != "e1" {
		t.Fatalf("entries after attacks: %q %v", got, err)
	}
	if size, cpt, _ := s.Head(ctx, "acme"); size != 2 || string(cpt) != "cp 2" {
		t.Errorf("head after attacks: %d %q", size, cpt)
	}
}
