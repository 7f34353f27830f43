package remote

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// LedgerStore is a ledger.Store, and a ledger.IndexStore, kept by a HUMAN
// ledger node (`human serve --role ledger`) in another infrastructure: the
// hybrid profile, where a control plane signs and sequences an org's log
// but every entry, node and checkpoint is written to the customer's own
// node. It is registered for store URLs of the schemes human+http and
// human+https:
//
//	HUMAN_LEDGER='human+https://ledger.example.com?key_file=/etc/human/control-plane.pem'
//
// key_file (required) is a PKCS #8 PEM key; the node must list its public
// key as an admin credential of each org whose log goes there
// (`--org-admins ORG=suite:base64url`). timeout (a duration, default 30s)
// bounds each request. Each request is signed by AdminKeyID(log, key), so
// the node takes the log from the signature and nothing else.
//
// The node persists but never signs: the control plane's ledger verifies
// what it reads back as over any store, and the node's compare-and-swap
// keeps the control plane from rewriting history it already wrote. Reads
// are retried on ErrUnavailable; Append is never retried (a lost answer
// surfaces as ErrUnavailable and the ledger re-reads the head).
type LedgerStore struct {
	opts    Options
	mu      sync.Mutex
	clients map[string]*Client // per log: the key id names the org
}

// NewLedgerStore returns a ledger store on the node at opts.BaseURL,
// signing with opts.Signer. opts.KeyID is ignored (each log signs as its
// org's admin). A missing BaseURL or Signer is errs.ErrInvalidArgument.
func NewLedgerStore(opts Options) (*LedgerStore, error) {
	opts.KeyID = "admin/x/y" // validated per log below; New requires one
	probe, err := New(opts)
	if err != nil {
		return nil, err
	}
	opts.HTTPClient = probe.hc // one connection pool for every log
	opts.Timeout, opts.Retries, opts.Now = probe.timeout, probe.retries, probe.now
	if probe.retries == 0 {
		opts.Retries = -1
	}
	return &LedgerStore{opts: opts, clients: map[string]*Client{}}, nil
}

var _ ledger.IndexStore = (*LedgerStore)(nil)

func init() {
	for _, scheme := range []string{"human+http", "human+https"} {
		adapters.Register(scheme, openLedgerURL)
	}
}

// openLedgerURL opens a LedgerStore from human+http(s)://HOST[/PATH]?key_file=...&timeout=...
func openLedgerURL(_ context.Context, u *url.URL) (*adapters.Stores, error) {
	q := u.Query()
	var keyFile string
	var timeout time.Duration
	for k, v := range q {
		switch {
		case len(v) != 1:
			return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger node URL: option %q given %d times", k, len(v))
		case k == "key_file":
			keyFile = v[0]
		case k == "timeout":
			d, err := time.ParseDuration(v[0])
			if err != nil || d <= 0 {
				return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger node URL: timeout %q: want a positive duration", v[0])
			}
			timeout = d
		default:
			return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger node URL: unknown option %q (want key_file, timeout)", k)
		}
	}
	if keyFile == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger node URL: key_file=PATH (the control plane's PKCS #8 PEM key) is required")
	}
	if u.User != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger node URL: credentials in the URL are not used; requests are signed with key_file")
	}
	signer, err := passport.LoadKeyFile(keyFile)
	if err != nil {
		return nil, err
	}
	base := url.URL{Scheme: strings.TrimPrefix(u.Scheme, "human+"), Host: u.Host, Path: u.Path}
	s, err := NewLedgerStore(Options{BaseURL: base.String(), Signer: signer, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return &adapters.Stores{Ledger: s, Close: s.Close}, nil
}

// Close releases idle connections.
func (s *LedgerStore) Close() error {
	s.opts.HTTPClient.CloseIdleConnections()
	return nil
}

// client returns the client signing as log's admin, after the checks
// every method shares: a cancelled context and an empty log name.
func (s *LedgerStore) client(ctx context.Context, log string) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger node: %w", err)
	}
	if log == "" || strings.ContainsAny(log, "/ ") {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger node: log name %q: want an org name", log)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[log]; c != nil {
		return c, nil
	}
	opts := s.opts
	opts.KeyID = AdminKeyID(log, s.opts.Signer.PublicKey())
	c, err := New(opts)
	if err != nil {
		return nil, err
	}
	s.clients[log] = c
	return c, nil
}

// Append implements ledger.Store.
func (s *LedgerStore) Append(ctx context.Context, log string, size uint64, entries [][]byte, nodes []ledger.Node, checkpoint []byte) error {
	return s.append(ctx, log, size, entries, nil, nodes, checkpoint)
}

// AppendIndexed implements ledger.IndexStore.
func (s *LedgerStore) AppendIndexed(ctx context.Context, log string, size uint64, entries [][]byte, fields []*ledger.Fields, nodes []ledger.Node, checkpoint []byte) error {
	if len(fields) != len(entries) {
		return errs.Errorf(errs.ErrInvalidArgument, "ledger node: %d fields for %d entries", len(fields), len(entries))
	}
	wf := make([]*wire.LedgerFields, len(fields))
	for i, f := range fields {
		wf[i] = wire.FromFields(f)
	}
	if wf == nil {
		wf = []*wire.LedgerFields{}
	}
	return s.append(ctx, log, size, entries, wf, nodes, checkpoint)
}

func (s *LedgerStore) append(ctx context.Context, log string, size uint64, entries [][]byte, fields []*wire.LedgerFields, nodes []ledger.Node, checkpoint []byte) error {
	c, err := s.client(ctx, log)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "ledger node: append of no entries")
	}
	in := wire.LedgerAppend{Size: size, Entries: entries, Fields: fields, Nodes: make([]wire.LedgerNode, len(nodes)), Checkpoint: checkpoint}
	for i, n := range nodes {
		in.Nodes[i] = wire.LedgerNode{Level: n.ID.Level, Index: n.ID.Index, Hash: n.Hash}
	}
	return c.Do(ctx, "POST", wire.LedgerStorePrefix+"/append", nil, in, nil, false, 0)
}

// Head implements ledger.Store.
func (s *LedgerStore) Head(ctx context.Context, log string) (uint64, []byte, error) {
	c, err := s.client(ctx, log)
	if err != nil {
		return 0, nil, err
	}
	var out wire.LedgerHead
	if err := c.Do(ctx, "GET", wire.LedgerStorePrefix+"/head", nil, nil, &out, true, 0); err != nil {
		return 0, nil, err
	}
	return out.Size, out.Checkpoint, nil
}

// Entries implements ledger.Store, a page of wire.MaxLedgerEntries per
// request.
func (s *LedgerStore) Entries(ctx context.Context, log string, start, end uint64) ([][]byte, error) {
	c, err := s.client(ctx, log)
	if err != nil {
		return nil, err
	}
	if start > end {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger node: entries [%d, %d): start after end", start, end)
	}
	out := make([][]byte, 0, end-start)
	for from := start; from < end; {
		to := min(end, from+wire.MaxLedgerEntries)
		var page wire.LedgerEntries
		q := url.Values{"start": {strconv.FormatUint(from, 10)}, "end": {strconv.FormatUint(to, 10)}}
		if err := c.Do(ctx, "GET", wire.LedgerStorePrefix+"/entries", q, nil, &page, true, 0); err != nil {
			return nil, err
		}
		if uint64(len(page.Entries)) != to-from {
			return nil, errs.Errorf(errs.ErrUnavailable, "ledger node: asked for %d entries, got %d", to-from, len(page.Entries))
		}
		out = append(out, page.Entries...)
		from = to
	}
	return out, nil
}

// Nodes implements ledger.Store.
func (s *LedgerStore) Nodes(ctx context.Context, log string, ids []ledger.NodeID) ([][]byte, error) {
	c, err := s.client(ctx, log)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	in := wire.LedgerNodeIDs{IDs: make([]wire.LedgerNode, len(ids))}
	for i, id := range ids {
		in.IDs[i] = wire.LedgerNode{Level: id.Level, Index: id.Index}
	}
	var out wire.LedgerHashes
	// A read, though a POST (the id list can be long): safe to retry.
	if err := c.Do(ctx, "POST", wire.LedgerStorePrefix+"/nodes", nil, in, &out, true, 0); err != nil {
		return nil, err
	}
	if len(out.Hashes) != len(ids) {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger node: asked for %d nodes, got %d", len(ids), len(out.Hashes))
	}
	return out.Hashes, nil
}

// Find implements ledger.IndexStore. The node answers from its index, or
// by scanning when its store has none; either way the ledger re-checks
// every result from its signed bytes.
func (s *LedgerStore) Find(ctx context.Context, log string, f *ledger.Filter, from uint64, limit int) ([]ledger.Found, error) {
	c, err := s.client(ctx, log)
	if err != nil {
		return nil, err
	}
	if limit < 1 || f == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger node: find needs a filter and a limit of at least 1")
	}
	var out []ledger.Found
	for len(out) < limit {
		ask := min(limit-len(out), wire.MaxLedgerEntries)
		var page wire.LedgerFound
		in := wire.LedgerFind{Filter: wire.FromFilter(f), From: from, Limit: ask}
		if err := c.Do(ctx, "POST", wire.LedgerStorePrefix+"/find", nil, in, &page, true, 0); err != nil {
			return nil, err
		}
		for _, fd := range page.Found {
			if fd.Index < from {
				return nil, errs.Errorf(errs.ErrUnavailable, "ledger node: find returned index %d before %d", fd.Index, from)
			}
			out = append(out, ledger.Found{Index: fd.Index, Entry: fd.Entry})
			from = fd.Index + 1
		}
		if len(page.Found) < ask {
			break
		}
	}
	return out, nil
}
