package ledger

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// Options tune a Log. The zero value (or nil) gives the defaults.
type Options struct {
	// Origin is the checkpoint's origin line and the note key name of its
	// signature; default "humanos.dev/ledger/" + org. It must hold no
	// space and no '+'.
	Origin string
	// MaxBatch is the most entries one group commit writes; default 256.
	MaxBatch int
	// Linger lets batches grow under load: when fewer entries are queued
	// than the previous batch held, the sequencer waits up to Linger for
	// that many before committing, so concurrent callers share one
	// checkpoint signature and one store transaction. A lone caller (a
	// previous batch of one) never waits. Default 500µs; negative
	// disables it.
	Linger time.Duration
	// Now is the log's clock; default time.Now. This slice stamps nothing
	// with it (C2SP checkpoints carry no time); it is here so later
	// features (checkpoint publishing, cosignatures) share one clock.
	Now func() time.Time
}

// DefaultOriginPrefix prefixes the org in a log's default origin.
const DefaultOriginPrefix = "humanos.dev/ledger/"

const (
	defaultMaxBatch = 256
	defaultLinger   = 500 * time.Microsecond
	// commitTimeout bounds one group commit, retries included: a batch that
	// keeps losing the compare-and-swap to another writer (a busy replica
	// on the same database) is re-sequenced until it lands or this passes,
	// never failed after a fixed number of losses.
	commitTimeout = time.Minute
	// conflictBackoff is the most a re-sequenced batch waits (a random
	// part of it) before trying again, after its first few losses: enough
	// to break lock-step with the winner without adding real latency.
	conflictBackoff = 2 * time.Millisecond
	// auditChunk is how many entries Verify reads at a time.
	auditChunk = 1024
)

// Log is one org's tamper-evident ledger: an append-only RFC 6962 Merkle
// log of entries (usually signed attestations) over a Store, with signed
// C2SP checkpoints. Appends from concurrent callers are group-committed: a
// sequencer goroutine writes each batch with one Store.Append and one
// checkpoint signature. A Log is safe for concurrent use. Several Logs (in
// one process or many) may share one store and org: the store's
// compare-and-swap keeps the log linear, and a Log that loses the race
// reloads the head and re-sequences its batch.
type Log struct {
	store    Store
	index    IndexStore // store, when it indexes attestations; else nil
	org      string
	origin   string
	signer   passport.Signer
	nsigner  note.Signer
	verifier note.Verifier
	vkey     string
	maxBatch int
	linger   time.Duration
	now      func() time.Time

	queue chan *Pending
	done  chan struct{} // closed when the sequencer has exited

	closeMu sync.RWMutex
	closed  bool

	// cosigned is the size each witness last cosigned (Cosign).
	cosignMu sync.Mutex
	cosigned map[Cosigner]uint64

	// Owned by the sequencer goroutine after Open: the tree as this Log
	// last saw it in the store.
	size uint64
	rng  *compact.Range
}

// Pending is an entry queued for the next group commit.
type Pending struct {
	entry  []byte
	leaf   []byte  // LeafHash(entry), computed by the submitting goroutine
	fields *Fields // query fields, when the store indexes
	done   chan struct{}

	// Set by the sequencer before done is closed: the batch that made the
	// entry durable and its index, or the error that failed the batch.
	batch *committed
	index uint64
	err   error

	// The receipt, built once by the first Wait (on the waiter's
	// goroutine, so that proofs for a batch are built in parallel and
	// off the sequencer).
	once    sync.Once
	receipt *Receipt
	rerr    error
}

// committed is what a durable batch leaves for its entries' receipts:
// the new tree's size and signed checkpoint, and every node hash an
// inclusion proof into it needs (the prior tree's compact range and the
// nodes the batch created). Read-only once published.
type committed struct {
	log    *Log
	size   uint64
	signed []byte
	known  map[NodeID][]byte
}

// Wait blocks until the entry's batch is durable in the store and returns
// its receipt, or the error that failed the batch (the log is then
// unchanged by it). A cancelled ctx stops the wait with an error wrapping
// errs.ErrUnavailable and ctx.Err(); it does not withdraw the entry, which
// may still be appended.
func (p *Pending) Wait(ctx context.Context) (*Receipt, error) {
	select {
	case <-p.done:
	default:
		select {
		case <-p.done:
		case <-ctx.Done():
			return nil, errs.Errorf(errs.ErrUnavailable, "ledger: waiting for a receipt: %w", ctx.Err())
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	p.once.Do(func() { p.receipt, p.rerr = p.batch.receipt(ctx, p.index, p.leaf, p.entry) })
	return p.receipt, p.rerr
}

// receipt builds the receipt of the entry at index from the batch's node
// hashes (reading any the batch lacks from the store).
func (c *committed) receipt(ctx context.Context, idx uint64, leaf, entry []byte) (*Receipt, error) {
	l := c.log
	pn, err := proof.Inclusion(idx, c.size)
	if err != nil {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: %v", l.org, err)
	}
	hashes, err := l.nodeHashes(ctx, pn.IDs, c.known)
	if err != nil {
		return nil, err
	}
	pr, err := pn.Rehash(hashes, hashChildren)
	if err != nil {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: %v", l.org, err)
	}
	return &Receipt{Index: idx, LeafHash: leaf, Entry: entry, Checkpoint: bytes.Clone(c.signed), Proof: pr}, nil
}

// Open returns org's log over store, signing entries (DSSE) and checkpoints
// (C2SP signed notes whose key name is the origin) with signer, which must
// be an Ed25519 signer. It resumes from what the store holds, so a second
// process continues the same log: the stored checkpoint must verify under
// signer's key and origin, and the stored tree must match its root, or Open
// fails with errs.ErrUnauthenticated. An empty org, a nil store or signer,
// a non-Ed25519 signer or a bad origin is errs.ErrInvalidArgument.
// Call Close when done.
func Open(ctx context.Context, store Store, org string, signer passport.Signer, opts *Options) (*Log, error) {
	l, err := openLog(ctx, store, org, signer, opts)
	if err != nil {
		return nil, err
	}
	go l.sequence()
	return l, nil
}

// openLog builds and loads a Log without starting its sequencer: Open
// starts one; a Witness drives its state logs with tryCommit directly.
func openLog(ctx context.Context, store Store, org string, signer passport.Signer, opts *Options) (*Log, error) {
	if store == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: nil store")
	}
	if org == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: empty org")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Origin == "" {
		o.Origin = DefaultOriginPrefix + org
	}
	if o.MaxBatch < 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: MaxBatch %d is negative", o.MaxBatch)
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = defaultMaxBatch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Linger == 0 {
		o.Linger = defaultLinger
	}
	ns, v, vkey, err := checkpointKeys(o.Origin, signer)
	if err != nil {
		return nil, err
	}
	l := &Log{
		store: store, org: org, origin: o.Origin, signer: signer,
		nsigner: ns, verifier: v, vkey: vkey, maxBatch: o.MaxBatch, linger: o.Linger, now: o.Now,
		queue: make(chan *Pending, 4*o.MaxBatch),
		done:  make(chan struct{}),
	}
	l.index, _ = store.(IndexStore)
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// load reads the head of the log from the store, verifies its checkpoint
// and rebuilds the compact range at that size from the stored nodes.
func (l *Log) load(ctx context.Context) error {
	size, signed, err := l.store.Head(ctx, l.org)
	if err != nil {
		return err
	}
	if size == 0 {
		l.size, l.rng = 0, rangeFactory.NewEmptyRange(0)
		return nil
	}
	cp, err := l.openHead(size, signed)
	if err != nil {
		return err
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := l.store.Nodes(ctx, l.org, toNodeIDs(ids))
	if err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			return errs.Errorf(errs.ErrUnauthenticated, "ledger %q: stored tree of size %d is incomplete: %w", l.org, size, err)
		}
		return err
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return errs.Errorf(errs.ErrUnauthenticated, "ledger %q: stored tree: %v", l.org, err)
	}
	root, err := rng.GetRootHash(nil)
	if err != nil || !bytes.Equal(root, cp.Hash) {
		return errs.Errorf(errs.ErrUnauthenticated, "ledger %q: stored tree of size %d does not match its signed checkpoint", l.org, size)
	}
	l.size, l.rng = size, rng
	return nil
}

// openHead verifies a stored head: the checkpoint is signed by this log's
// key for its origin and names the stored size.
func (l *Log) openHead(size uint64, signed []byte) (*Checkpoint, error) {
	cp, err := openCheckpoint(signed, l.verifier)
	if err != nil {
		return nil, errs.Errorf(errs.Kind(err), "ledger %q: stored checkpoint: %w", l.org, err)
	}
	if cp.Size != size {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: store holds %d entries but its checkpoint says %d", l.org, size, cp.Size)
	}
	return cp, nil
}

func toNodeIDs(ids []compact.NodeID) []NodeID {
	out := make([]NodeID, len(ids))
	for i, id := range ids {
		out[i] = NodeID{Level: id.Level, Index: id.Index}
	}
	return out
}

// Origin is the log's checkpoint origin line.
func (l *Log) Origin() string { return l.origin }

// Org is the org whose log this is (its log name in the store).
func (l *Log) Org() string { return l.org }

// PublicKey is the key that signs the log's attestation envelopes and
// checkpoints.
func (l *Log) PublicKey() passport.PublicKey { return l.signer.PublicKey() }

// Verifier returns the checkpoint verifier (public key only), what
// VerifyReceipt and VerifyConsistency need.
func (l *Log) Verifier() note.Verifier { return l.verifier }

// VerifierKey returns the note verifier key "name+hash+base64" to publish;
// NewVerifier turns it back into a Verifier.
func (l *Log) VerifierKey() string { return l.vkey }

// Attest signs st into a DSSE envelope (PayloadType) with the log's signer
// and queues it like Submit. An invalid statement is
// errs.ErrInvalidArgument.
func (l *Log) Attest(ctx context.Context, st *Statement) (*Pending, error) {
	entry, err := sealStatement(st, l.signer)
	if err != nil {
		return nil, err
	}
	if len(entry) > maxEntry {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: entry of %d bytes, limit %d", len(entry), maxEntry)
	}
	var fields *Fields
	if l.index != nil {
		fields = indexFields(st, true)
	}
	// sealStatement validated st.Predicate. entry is fresh: queue it
	// without Submit's copy.
	return l.enqueue(ctx, &Pending{entry: entry, leaf: LeafHash(entry), fields: fields, done: make(chan struct{})})
}

// Now reads the log's clock (Options.Now): the time predicates should
// carry, so that queries by time range find them.
func (l *Log) Now() time.Time { return l.now() }

// Submit queues a raw entry for the next group commit and returns at once
// (unless the queue is full, when it waits for room or ctx). The entry is
// copied. An entry over 1 MiB is errs.ErrInvalidArgument; a closed log is
// errs.ErrFailedPrecondition; a cancelled ctx is errs.ErrUnavailable.
func (l *Log) Submit(ctx context.Context, entry []byte) (*Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger: submit: %w", err)
	}
	if len(entry) > maxEntry {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: entry of %d bytes, limit %d", len(entry), maxEntry)
	}
	p := &Pending{entry: bytes.Clone(entry), done: make(chan struct{})}
	if p.entry == nil {
		p.entry = []byte{}
	}
	p.leaf = LeafHash(p.entry)
	if l.index != nil {
		if _, st, err := ParseAttestation(p.entry); err == nil {
			p.fields = indexFields(st, true)
		}
	}
	return l.enqueue(ctx, p)
}

// enqueue hands p to the sequencer.
func (l *Log) enqueue(ctx context.Context, p *Pending) (*Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger: submit: %w", err)
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: log is closed", l.org)
	}
	select {
	case l.queue <- p:
		return p, nil
	case <-ctx.Done():
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger: submit: %w", ctx.Err())
	}
}

// Append submits entry and waits for its receipt.
func (l *Log) Append(ctx context.Context, entry []byte) (*Receipt, error) {
	p, err := l.Submit(ctx, entry)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Close stops accepting entries, commits every queued one and stops the
// sequencer. It is safe to call more than once.
func (l *Log) Close() error {
	l.closeMu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
	l.closeMu.Unlock()
	<-l.done
	return nil
}

// sequence is the group-commit loop: it takes whatever is queued (up to
// MaxBatch entries) and commits it as one batch.
func (l *Log) sequence() {
	defer close(l.done)
	batch := make([]*Pending, 0, l.maxBatch)
	var timer *time.Timer
	last := 1 // size of the previous batch: the load to wait for
	for p := range l.queue {
		batch = append(batch[:0], p)
		closed := false
	fill:
		for len(batch) < l.maxBatch {
			select {
			case p, ok := <-l.queue:
				if !ok {
					closed = true
					break fill
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		if !closed && l.linger > 0 && len(batch) < min(last, l.maxBatch) {
			// Under load: give the callers of the previous batch, who
			// are likely submitting again, a moment to join this one.
			if timer == nil {
				timer = time.NewTimer(l.linger)
			} else {
				timer.Reset(l.linger)
			}
		linger:
			for len(batch) < min(last, l.maxBatch) {
				select {
				case p, ok := <-l.queue:
					if !ok {
						break linger
					}
					batch = append(batch, p)
				case <-timer.C:
					break linger
				}
			}
			timer.Stop()
		}
		last = len(batch)
		l.commit(batch)
	}
}

// commit appends one batch, re-sequencing it at the new head when another
// writer appended first, and answers every Pending of the batch. Receipts
// are built by the waiters (Pending.Wait), not here: the sequencer only
// hashes the tree, signs the checkpoint and writes.
func (l *Log) commit(batch []*Pending) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	entries := make([][]byte, len(batch))
	leaves := make([][]byte, len(batch))
	var fields []*Fields
	if l.index != nil {
		fields = make([]*Fields, len(batch))
	}
	for i, p := range batch {
		entries[i], leaves[i] = p.entry, p.leaf
		if fields != nil {
			fields[i] = p.fields
		}
	}
	var c *committed
	var err error
	for attempt := 0; ; attempt++ {
		c, err = l.tryCommit(ctx, entries, leaves, fields)
		if err == nil || !errors.Is(err, errs.ErrConflict) || ctx.Err() != nil {
			break
		}
		if attempt >= 3 {
			time.Sleep(rand.N(conflictBackoff))
		}
		if err = l.load(ctx); err != nil {
			break
		}
	}
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			p.batch, p.index = c, c.size-uint64(len(batch)-i)
		}
		close(p.done)
	}
}

// tryCommit hashes the entries' leaves onto the current tree, signs the
// new checkpoint and asks the store to append at the current size. Only
// on success does it advance the Log's view of the tree.
func (l *Log) tryCommit(ctx context.Context, entries, leaves [][]byte, fields []*Fields) (*committed, error) {
	oldSize := l.size
	prior := l.rng.Hashes()
	known := make(map[NodeID][]byte, len(prior)+2*len(entries))
	for i, id := range compact.RangeNodes(0, oldSize, nil) {
		known[NodeID{Level: id.Level, Index: id.Index}] = prior[i]
	}
	rng, err := rangeFactory.NewRange(0, oldSize, append([][]byte(nil), prior...))
	if err != nil {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: %v", l.org, err)
	}
	nodes := make([]Node, 0, 2*len(entries))
	visit := func(id compact.NodeID, h []byte) {
		n := NodeID{Level: id.Level, Index: id.Index}
		nodes = append(nodes, Node{ID: n, Hash: h})
		known[n] = h
	}
	for _, leaf := range leaves {
		if err := rng.Append(leaf, visit); err != nil {
			return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: %v", l.org, err)
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: %v", l.org, err)
	}
	newSize := oldSize + uint64(len(entries))
	signed, err := signCheckpoint(&Checkpoint{Origin: l.origin, Size: newSize, Hash: root}, l.nsigner)
	if err != nil {
		return nil, err
	}
	if l.index != nil {
		err = l.index.AppendIndexed(ctx, l.org, oldSize, entries, fields, nodes, signed)
	} else {
		err = l.store.Append(ctx, l.org, oldSize, entries, nodes, signed)
	}
	if err != nil {
		return nil, err
	}
	l.size, l.rng = newSize, rng
	return &committed{log: l, size: newSize, signed: signed, known: known}, nil
}

// nodeHashes looks the ids up in known, falling back to the store for any
// it lacks. The returned slice is fresh (Rehash rewrites it in place).
func (l *Log) nodeHashes(ctx context.Context, ids []compact.NodeID, known map[NodeID][]byte) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := known[NodeID{Level: id.Level, Index: id.Index}]
		if !ok {
			return l.readNodes(ctx, ids)
		}
		out[i] = h
	}
	return out, nil
}

// readNodes reads node hashes from the store.
func (l *Log) readNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	hashes, err := l.store.Nodes(ctx, l.org, toNodeIDs(ids))
	if err != nil {
		return nil, err
	}
	if len(hashes) != len(ids) {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger %q: store returned %d node hashes for %d ids", l.org, len(hashes), len(ids))
	}
	return hashes, nil
}

// Checkpoint returns the log's latest checkpoint as the store holds it
// (including appends by other Logs on the same store), parsed and as
// signed-note bytes, after verifying its signature. An empty log gets a
// freshly signed checkpoint of size 0. A stored checkpoint that does not
// verify is errs.ErrUnauthenticated.
func (l *Log) Checkpoint(ctx context.Context) (*Checkpoint, []byte, error) {
	size, signed, err := l.store.Head(ctx, l.org)
	if err != nil {
		return nil, nil, err
	}
	if size == 0 {
		cp := &Checkpoint{Origin: l.origin, Size: 0, Hash: hasher.EmptyRoot()}
		signed, err := signCheckpoint(cp, l.nsigner)
		if err != nil {
			return nil, nil, err
		}
		return cp, signed, nil
	}
	cp, err := l.openHead(size, signed)
	if err != nil {
		return nil, nil, err
	}
	return cp, signed, nil
}

// headSize returns the store's current size of the log.
func (l *Log) headSize(ctx context.Context) (uint64, error) {
	size, _, err := l.store.Head(ctx, l.org)
	return size, err
}

// InclusionProof returns the RFC 6962 inclusion proof of the entry at index
// in the tree of the given size. index >= size is errs.ErrInvalidArgument;
// a size beyond the log's is errs.ErrNotFound. The proof is built from
// stored hashes: verify it against a signed checkpoint (Receipt does).
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: inclusion proof of index %d in a tree of size %d", index, size)
	}
	head, err := l.headSize(ctx)
	if err != nil {
		return nil, err
	}
	if size > head {
		return nil, errs.Errorf(errs.ErrNotFound, "ledger %q: tree size %d is beyond the log's size %d", l.org, size, head)
	}
	return l.inclusionProof(ctx, index, size)
}

func (l *Log) inclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	pn, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: %v", err)
	}
	hashes, err := l.readNodes(ctx, pn.IDs)
	if err != nil {
		return nil, err
	}
	pr, err := pn.Rehash(hashes, hashChildren)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger: %v", err)
	}
	return pr, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of oldSize and newSize. oldSize > newSize is errs.ErrInvalidArgument; a
// newSize beyond the log's is errs.ErrNotFound. Verify it with
// VerifyConsistency against the two signed checkpoints.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize uint64) ([][]byte, error) {
	if oldSize > newSize {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: consistency proof from size %d to smaller size %d", oldSize, newSize)
	}
	head, err := l.headSize(ctx)
	if err != nil {
		return nil, err
	}
	if newSize > head {
		return nil, errs.Errorf(errs.ErrNotFound, "ledger %q: tree size %d is beyond the log's size %d", l.org, newSize, head)
	}
	pn, err := proof.Consistency(oldSize, newSize)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: %v", err)
	}
	hashes, err := l.readNodes(ctx, pn.IDs)
	if err != nil {
		return nil, err
	}
	pr, err := pn.Rehash(hashes, hashChildren)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger: %v", err)
	}
	return pr, nil
}

// Receipt returns a receipt for the entry at index against the latest
// checkpoint, and verifies it before returning it, so a stored entry or
// node that was changed is reported as errs.ErrUnauthenticated. An index
// beyond the log is errs.ErrNotFound.
func (l *Log) Receipt(ctx context.Context, index uint64) (*Receipt, error) {
	cp, signed, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if index >= cp.Size {
		return nil, errs.Errorf(errs.ErrNotFound, "ledger %q: no entry %d (size %d)", l.org, index, cp.Size)
	}
	entries, err := l.store.Entries(ctx, l.org, index, index+1)
	if err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: entry %d is covered by the checkpoint but missing from the store: %w", l.org, index, err)
		}
		return nil, err
	}
	if len(entries) != 1 {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger %q: store returned %d entries for index %d", l.org, len(entries), index)
	}
	pr, err := l.inclusionProof(ctx, index, cp.Size)
	if err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: tree nodes for entry %d are missing: %w", l.org, index, err)
		}
		return nil, err
	}
	r := &Receipt{Index: index, LeafHash: LeafHash(entries[0]), Entry: entries[0], Checkpoint: signed, Proof: pr}
	if err := VerifyReceipt(r, l.verifier); err != nil {
		return nil, errs.Errorf(errs.Kind(err), "ledger %q: stored entry %d fails verification: %w", l.org, index, err)
	}
	return r, nil
}

// Entry returns the entry at index, verified against the latest checkpoint
// (see Receipt for the errors).
func (l *Log) Entry(ctx context.Context, index uint64) ([]byte, error) {
	r, err := l.Receipt(ctx, index)
	if err != nil {
		return nil, err
	}
	return r.Entry, nil
}

// Verify audits the whole log: it reads every entry, recomputes the Merkle
// tree and checks it against the latest signed checkpoint. Any changed,
// deleted, inserted or reordered entry, or a checkpoint not signed by the
// log's key, is errs.ErrUnauthenticated.
func (l *Log) Verify(ctx context.Context) error {
	cp, _, err := l.Checkpoint(ctx)
	if err != nil {
		return err
	}
	rng := rangeFactory.NewEmptyRange(0)
	for start := uint64(0); start < cp.Size; start += auditChunk {
		end := min(start+auditChunk, cp.Size)
		entries, err := l.store.Entries(ctx, l.org, start, end)
		if err != nil {
			if errors.Is(err, errs.ErrNotFound) {
				return errs.Errorf(errs.ErrUnauthenticated, "ledger %q: audit: entries [%d, %d) covered by the checkpoint are missing: %w", l.org, start, end, err)
			}
			return err
		}
		if uint64(len(entries)) != end-start {
			return errs.Errorf(errs.ErrUnauthenticated, "ledger %q: audit: store returned %d entries for [%d, %d)", l.org, len(entries), start, end)
		}
		for _, e := range entries {
			if err := rng.Append(LeafHash(e), nil); err != nil {
				return errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: audit: %v", l.org, err)
			}
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: audit: %v", l.org, err)
	}
	if root == nil {
		root = hasher.EmptyRoot()
	}
	if !bytes.Equal(root, cp.Hash) {
		return errs.Errorf(errs.ErrUnauthenticated, "ledger %q: audit: the %d stored entries do not hash to the signed checkpoint's root", l.org, cp.Size)
	}
	return nil
}
