package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/server"
)

// TestLedgerIndexMetrics scrapes /metrics on a ledger node over SQLite
// after appends and finds the index's health: failures per worker, the
// unmerged backlog and the runs; a node over a store without that index
// (mem://) exports none of them.
func TestLedgerIndexMetrics(t *testing.T) {
	ctx := context.Background()
	ka := gen(t)
	_, base := newServer(t, server.Config{Role: server.RoleLedger,
		Admins: map[string][]passport.PublicKey{"org-a": {ka.PublicKey()}}})
	st, err := remote.NewLedgerStore(remote.Options{BaseURL: base, Signer: ka})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, "org-a", 0, [][]byte{[]byte("a0"), []byte("a1")}, nil, []byte("cp a 2")); err != nil {
		t.Fatal(err)
	}
	data := scrapeLedgerIndex(t, base, "a ledger node over SQLite")
	if strings.Contains(string(data), "org-a") {
		t.Errorf("/metrics (public) names the org: %s", data)
	}

	_, memBase := newServer(t, server.Config{Role: server.RoleLedger, Library: human.Config{Store: "mem://"}})
	resp, data := send(t, memBase, "GET", "/metrics", nil, nil)
	if resp.StatusCode != 200 || strings.Contains(string(data), "human_ledger_index_") {
		t.Errorf("/metrics of a ledger node over mem://: %d, with ledger index metrics:\n%s", resp.StatusCode, data)
	}
}

// TestLedgerIndexMetricsDefaultRole scrapes /metrics on a default-role
// server over a SQLite data dir after two orgs enrolled and appended, each
// through its own org client (its own handle on the file): the index's
// health is there, with no failures and no org named; a server over mem://
// exports none of it.
func TestLedgerIndexMetricsDefaultRole(t *testing.T) {
	ctx := context.Background()
	_, base := newServer(t, server.Config{})
	orgs := []string{"acme-metrics-a", "acme-metrics-b"}
	for _, org := range orgs {
		admin := newTenantMinimal(t, base, org)
		c, err := remote.New(remote.Options{BaseURL: base, KeyID: admin.keyID, Signer: admin.key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Append(ctx, []byte("entry of "+org)); err != nil {
			t.Fatal(err)
		}
	}
	data := scrapeLedgerIndex(t, base, "a default-role server over SQLite")
	for _, org := range append(orgs, "acme-metrics") {
		if strings.Contains(string(data), org) {
			t.Errorf("/metrics (public) names an org (%s):\n%s", org, data)
		}
	}

	_, memBase := newServer(t, server.Config{Library: human.Config{Store: "mem://"}})
	newTenantMinimal(t, memBase, "org-a")
	resp, data := send(t, memBase, "GET", "/metrics", nil, nil)
	if resp.StatusCode != 200 || strings.Contains(string(data), "human_ledger_index_") {
		t.Errorf("/metrics of a default-role server over mem://: %d, with ledger index metrics:\n%s", resp.StatusCode, data)
	}
}

// scrapeLedgerIndex reads base's /metrics and checks that it carries the
// ledger index's metrics with no failures; what names the server in errors.
func scrapeLedgerIndex(t *testing.T, base, what string) []byte {
	t.Helper()
	resp, data := send(t, base, "GET", "/metrics", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, data)
	}
	for _, want := range []string{
		`human_ledger_index_failures_total{worker="merger"} 0`,
		`human_ledger_index_failures_total{worker="checkpointer"} 0`,
		`human_ledger_index_failures_total{worker="index-checkpointer"} 0`,
		"\nhuman_ledger_index_unmerged_entries ",
		"\nhuman_ledger_index_runs ",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("/metrics of %s lacks %q", what, want)
		}
	}
	return data
}
