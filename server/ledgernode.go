package server

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/ledger"
)

// Server roles (Config.Role).
const (
	// RoleAll serves the whole API over the org clients: the default.
	RoleAll = "all"
	// RoleLedger serves only the ledger-store protocol (a ledger node in
	// the customer's infrastructure, for the hybrid profile): a control
	// plane's adapters/remote LedgerStore appends into this node's store,
	// signed by a key the node lists as the org's admin credential. The
	// node holds no org signing key and no other store.
	RoleLedger = "ledger"
)

// ledgerNode is the state of a server in the ledger role.
type ledgerNode struct {
	store ledger.Store
	index ledger.IndexStore // store, when it indexes; else nil
	close func() error
}

// openLedgerNode opens the node's ledger store: Library.Ledger when set,
// else Library.Store, else SQLite under the data directory.
func (s *Server) openLedgerNode(ctx context.Context) error {
	u := s.cfg.Library.Ledger
	if u == "" {
		u = s.cfg.Library.Store
	}
	if u == "" {
		abs, err := filepath.Abs(filepath.Join(s.cfg.Library.DataDir, "human.db"))
		if err != nil {
			return errs.Errorf(errs.ErrInvalidArgument, "data dir %q: %v", s.cfg.Library.DataDir, err)
		}
		u = "sqlite://" + filepath.ToSlash(abs)
	}
	st, err := adapters.Open(ctx, u)
	if err != nil {
		return err
	}
	if st.Ledger == nil {
		if st.Close != nil {
			st.Close()
		}
		return errs.Errorf(errs.ErrInvalidArgument, "store URL %q provides no ledger store", u)
	}
	n := &ledgerNode{store: st.Ledger, close: st.Close}
	n.index, _ = st.Ledger.(ledger.IndexStore)
	if r, ok := st.Ledger.(ledgerIndexReporter); ok { // SQLite: its index's health on /metrics
		s.cfg.Registry.MustRegister(newLedgerIndexCollector(r, s.log))
	}
	s.node = n
	return nil
}

func (s *Server) ledgerRouteTable() []*route {
	p := wire.LedgerStorePrefix
	return []*route{
		rt("GET", "/health", authNone, s.health),
		rt("GET", "/ready", authNone, s.ready),
		&route{method: "GET", pattern: "/metrics", raw: s.metrics.handler},
		&route{method: "GET", pattern: "/v1/openapi.json", raw: http.HandlerFunc(serveOpenAPI)},
		rt("POST", "/v1/orgs", authEnroll, s.enrollOrg),
		rt("POST", "/v1/sessions", authLedger, s.openSession),
		rt("GET", p+"/head", authLedger, s.ledgerHead),
		{method: "POST", pattern: p + "/append", auth: authLedger, handle: s.ledgerAppend, maxBody: wire.MaxLedgerBody},
		rt("GET", p+"/entries", authLedger, s.ledgerEntries),
		rt("POST", p+"/nodes", authLedger, s.ledgerNodes),
		rt("POST", p+"/find", authLedger, s.ledgerFind),
	}
}

// readyLedger checks that the node's store answers for every known org.
func (s *Server) readyLedger(ctx context.Context) map[string]error {
	s.mu.Lock()
	orgs := make([]string, 0, len(s.admins))
	for org := range s.admins {
		orgs = append(orgs, org)
	}
	s.mu.Unlock()
	out := map[string]error{}
	for _, org := range orgs {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _, err := s.node.store.Head(cctx, org)
		cancel()
		out[org] = err
	}
	return out
}

func (s *Server) ledgerHead(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "read the ledger store"); err != nil {
		return 0, nil, err
	}
	size, cp, err := s.node.store.Head(ctx, rq.p.org)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire.LedgerHead{Size: size, Checkpoint: cp}, nil
}

func (s *Server) ledgerAppend(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "append to the ledger store"); err != nil {
		return 0, nil, err
	}
	var in wire.LedgerAppend
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	nodes := make([]ledger.Node, len(in.Nodes))
	for i, n := range in.Nodes {
		nodes[i] = ledger.Node{ID: ledger.NodeID{Level: n.Level, Index: n.Index}, Hash: n.Hash}
	}
	var err error
	switch {
	case in.Fields == nil:
		err = s.node.store.Append(ctx, rq.p.org, in.Size, in.Entries, nodes, in.Checkpoint)
	case len(in.Fields) != len(in.Entries):
		err = errs.Errorf(errs.ErrInvalidArgument, "%d fields for %d entries", len(in.Fields), len(in.Entries))
	case s.node.index != nil:
		fields := make([]*ledger.Fields, len(in.Fields))
		for i, f := range in.Fields {
			fields[i] = f.LedgerValue()
		}
		err = s.node.index.AppendIndexed(ctx, rq.p.org, in.Size, in.Entries, fields, nodes, in.Checkpoint)
	default: // a plain store: Find scans instead
		err = s.node.store.Append(ctx, rq.p.org, in.Size, in.Entries, nodes, in.Checkpoint)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) ledgerEntries(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "read the ledger store"); err != nil {
		return 0, nil, err
	}
	q := rq.r.URL.Query()
	start, err1 := strconv.ParseUint(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseUint(q.Get("end"), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "start and end must be entry indices")
	}
	if end > start && end-start > wire.MaxLedgerEntries {
		return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "at most %d entries per request", wire.MaxLedgerEntries)
	}
	entries, err := s.node.store.Entries(ctx, rq.p.org, start, end)
	if err != nil {
		return 0, nil, err
	}
	if entries == nil {
		entries = [][]byte{}
	}
	return http.StatusOK, wire.LedgerEntries{Entries: entries}, nil
}

func (s *Server) ledgerNodes(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "read the ledger store"); err != nil {
		return 0, nil, err
	}
	var in wire.LedgerNodeIDs
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	ids := make([]ledger.NodeID, len(in.IDs))
	for i, n := range in.IDs {
		ids[i] = ledger.NodeID{Level: n.Level, Index: n.Index}
	}
	hashes, err := s.node.store.Nodes(ctx, rq.p.org, ids)
	if err != nil {
		return 0, nil, err
	}
	if hashes == nil {
		hashes = [][]byte{}
	}
	return http.StatusOK, wire.LedgerHashes{Hashes: hashes}, nil
}

// ledgerScanChunk is how many entries a node reads at a time when it
// answers Find over a store without an index.
const ledgerScanChunk = 256

func (s *Server) ledgerFind(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "query the ledger store"); err != nil {
		return 0, nil, err
	}
	var in wire.LedgerFind
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	if in.Limit < 1 {
		return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "limit %d: want at least 1", in.Limit)
	}
	in.Limit = min(in.Limit, wire.MaxLedgerEntries)
	f := in.Filter.LedgerValue()
	var found []ledger.Found
	var err error
	if s.node.index != nil {
		found, err = s.node.index.Find(ctx, rq.p.org, f, in.From, in.Limit)
	} else {
		found, err = s.ledgerScan(ctx, rq.p.org, f, in.From, in.Limit)
	}
	if err != nil {
		return 0, nil, err
	}
	out := wire.LedgerFound{Found: make([]wire.LedgerFoundEntry, len(found))}
	for i, fd := range found {
		out.Found[i] = wire.LedgerFoundEntry{Index: fd.Index, Entry: fd.Entry}
	}
	return http.StatusOK, out, nil
}

// ledgerScan is Find over a plain store: the node reads its own entries
// and matches the fields the ledger package extracts from each. The
// control plane re-checks every result from its signed bytes anyway.
func (s *Server) ledgerScan(ctx context.Context, org string, f *ledger.Filter, from uint64, limit int) ([]ledger.Found, error) {
	size, _, err := s.node.store.Head(ctx, org)
	if err != nil {
		return nil, err
	}
	var out []ledger.Found
	for start := from; start < size && len(out) < limit; start += ledgerScanChunk {
		end := min(start+ledgerScanChunk, size)
		entries, err := s.node.store.Entries(ctx, org, start, end)
		if err != nil {
			return nil, err
		}
		for i, e := range entries {
			_, st, err := ledger.ParseAttestation(e)
			if err != nil || !f.Match(ledger.IndexFields(st)) {
				continue
			}
			out = append(out, ledger.Found{Index: start + uint64(i), Entry: e})
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}
