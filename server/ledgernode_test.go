package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/server"
)

// TestAttackLedgerNodeMatrix: every ledger-store route of a ledger node ×
// {no credential, another org's admin, a passport key id, an unlisted
// key}: refused with a 4xx problem+json, or (another org's admin) answered
// from that org's own log only; org A's log is unchanged. A server in the
// default role does not serve the ledger-store routes at all.
func TestAttackLedgerNodeMatrix(t *testing.T) {
	ctx := context.Background()
	ka, kb, stranger := gen(t), gen(t), gen(t)
	node, base := newServer(t, server.Config{Role: server.RoleLedger, Library: human.Config{Store: "mem://"},
		Admins: map[string][]passport.PublicKey{"org-a": {ka.PublicKey()}, "org-b": {kb.PublicKey()}}})
	sa, err := remote.NewLedgerStore(remote.Options{BaseURL: base, Signer: ka})
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Append(ctx, "org-a", 0, [][]byte{[]byte("a0"), []byte("a1")}, nil, []byte("cp a 2")); err != nil {
		t.Fatal(err)
	}
	p := wire.LedgerStorePrefix
	cases := map[string]struct {
		path string
		body []byte
	}{
		"GET " + p + "/head":    {p + "/head", nil},
		"POST " + p + "/append": {p + "/append", mustJSON(t, wire.LedgerAppend{Size: 2, Entries: [][]byte{[]byte("x")}, Checkpoint: []byte("x")})},
		"GET " + p + "/entries": {p + "/entries?start=0&end=2", nil},
		"POST " + p + "/nodes":  {p + "/nodes", mustJSON(t, wire.LedgerNodeIDs{IDs: []wire.LedgerNode{{Level: 0, Index: 0}}})},
		"POST " + p + "/find":   {p + "/find", mustJSON(t, wire.LedgerFind{Limit: 10})},
	}
	var routes []string
	for _, r := range node.Routes() {
		if strings.Contains(r, p) {
			routes = append(routes, r)
			if _, ok := cases[r]; !ok {
				t.Errorf("route %s is not in the matrix", r)
			}
		}
	}
	if len(routes) != len(cases) {
		t.Errorf("matrix has %d cases for %d routes", len(cases), len(routes))
	}
	orgB := principal{wire.AdminKeyID("org-b", kb.PublicKey()), kb}
	unlisted := principal{wire.AdminKeyID("org-a", stranger.PublicKey()), stranger}
	passportID := principal{wire.PassportKeyID("org-a", "did:human:x"), ka}
	_, fullBase := newServer(t, server.Config{Library: human.Config{Store: "mem://"}})
	for name, tc := range cases {
		method := strings.Fields(name)[0]
		resp, data := send(t, base, method, tc.path, tc.body, nil)
		if code := problem(t, name+" without credential", resp, data); code != wire.CodeMissingSignature {
			t.Errorf("%s without credential: %s", name, code)
		}
		for who, pr := range map[string]*principal{"an unlisted key": &unlisted, "a passport key id": &passportID} {
			resp, data = send(t, base, method, tc.path, tc.body, pr)
			if code := problem(t, name+" with "+who, resp, data); code != wire.CodeBadSignature {
				t.Errorf("%s with %s: %s", name, who, code)
			}
		}
		resp, data = send(t, base, method, tc.path, tc.body, &orgB)
		if resp.StatusCode < 300 && (bytes.Contains(data, []byte("a0")) || bytes.Contains(data, []byte("cp a"))) {
			t.Errorf("%s as org B: answer shows org A's log: %s", name, data)
		}
		resp, data = send(t, fullBase, method, tc.path, tc.body, &orgB)
		if code := problem(t, name+" on a full server", resp, data); code != wire.CodeUnknownRoute {
			t.Errorf("%s on a server without the ledger role: %s", name, code)
		}
	}
	if size, cp, err := sa.Head(ctx, "org-a"); err != nil || size != 2 || string(cp) != "cp a 2" {
		t.Errorf("org A's log after the matrix: %d %q %v", size, cp, err)
	}
}

// TestLedgerNodeBodyLimit: a group commit over the 1 MiB limit of other
// routes is accepted by the append route, and one over its 32 MiB limit is
// 413 body_too_large with nothing written.
func TestLedgerNodeBodyLimit(t *testing.T) {
	ka := gen(t)
	_, base := newServer(t, server.Config{Role: server.RoleLedger, Library: human.Config{Store: "mem://"},
		Admins: map[string][]passport.PublicKey{"org-a": {ka.PublicKey()}}})
	admin := principal{wire.AdminKeyID("org-a", ka.PublicKey()), ka}
	big := bytes.Repeat([]byte("e"), 2<<20)
	resp, data := send(t, base, "POST", wire.LedgerStorePrefix+"/append", mustJSON(t, wire.LedgerAppend{Size: 0, Entries: [][]byte{big}, Checkpoint: []byte("cp")}), &admin)
	if resp.StatusCode != 204 {
		t.Fatalf("2 MiB append: %d %s", resp.StatusCode, data)
	}
	huge := bytes.Repeat([]byte("e"), wire.MaxLedgerBody)
	resp, data = send(t, base, "POST", wire.LedgerStorePrefix+"/append", mustJSON(t, wire.LedgerAppend{Size: 1, Entries: [][]byte{huge}, Checkpoint: []byte("cp")}), &admin)
	if code := problem(t, "oversized append", resp, data); code != wire.CodeBodyTooLarge {
		t.Errorf("oversized append: %s", code)
	}
	resp, data = send(t, base, "GET", wire.LedgerStorePrefix+"/head", nil, &admin)
	var h wire.LedgerHead
	if json.Unmarshal(data, &h) != nil || h.Size != 1 {
		t.Errorf("head after the oversized append: %d %s", resp.StatusCode, data)
	}
}
