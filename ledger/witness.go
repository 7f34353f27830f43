package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// WitnessOptions tune a Witness. The zero value (or nil) gives the
// defaults.
type WitnessOptions struct {
	// Now is the witness's clock, the time in its cosignatures; default
	// time.Now.
	Now func() time.Time
}

// Witness cosigns other logs' checkpoints with C2SP tlog-witness
// semantics and C2SP tlog-cosignature (cosignature/v1, Ed25519)
// signatures. For each log it knows (by origin and verifier key) it keeps
// the latest checkpoint it cosigned, and cosigns a new one only after
// checking a consistency proof from that one, so it never cosigns a fork
// nor goes back to a smaller tree.
//
// Its state is itself a log: for each witnessed origin, every checkpoint
// it cosigned is an entry of a log named WitnessStateLog(name, origin) in
// its Store, with checkpoints signed by the witness key. Advancing the
// state is that log's compare-and-swap append, so witnesses in several
// processes sharing one store never cosign two diverging views, and the
// state is tamper-evident like any log. A Witness is safe for concurrent
// use.
type Witness struct {
	store  Store
	name   string
	signer passport.Signer
	hash   uint32
	vkey   string
	ver    note.Verifier
	logs   map[string]note.Verifier
	now    func() time.Time
	mu     sync.Mutex
	state  map[string]*Log
}

// WitnessConflictError is AddCheckpoint's refusal of an old size that is
// not the witness's latest cosigned size for the log (tlog-witness's 409
// Conflict). Size tells the log which size to prove consistency from. It
// wraps errs.ErrConflict.
type WitnessConflictError struct {
	Origin string
	Size   uint64
}

func (e *WitnessConflictError) Error() string {
	return fmt.Sprintf("witness: latest cosigned checkpoint of %s has size %d", e.Origin, e.Size)
}

// Unwrap returns errs.ErrConflict.
func (e *WitnessConflictError) Unwrap() error { return errs.ErrConflict }

// WitnessStateLog is the store log name under which a witness named name
// keeps the checkpoints of origin it cosigned.
func WitnessStateLog(name, origin string) string { return "witness/" + name + "/" + origin }

// NewWitness returns a witness named name (its cosignature key name, such
// as "witness.example.com/w1") that cosigns with signer (Ed25519) the
// checkpoints of the logs whose note verifiers are logs, keeping its state
// in store. A nil store or signer, a bad name, a non-Ed25519 signer, or two
// logs with one origin is errs.ErrInvalidArgument.
//
// Use a key that signs nothing else: checkpoints, DSSE envelopes and
// cosignatures are domain-separated, but C2SP asks each cosigner for its
// own key.
func NewWitness(store Store, name string, signer passport.Signer, logs []note.Verifier, opts *WitnessOptions) (*Witness, error) {
	if store == nil || signer == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "witness: nil store or signer")
	}
	vkey, err := CosignatureVerifierKey(name, signer.PublicKey())
	if err != nil {
		return nil, err
	}
	ver, err := NewCosignatureVerifier(vkey)
	if err != nil {
		return nil, err
	}
	w := &Witness{
		store: store, name: name, signer: signer, vkey: vkey, ver: ver,
		hash: cosignatureKeyHash(name, ed25519.PublicKey(signer.PublicKey().Key)),
		logs: make(map[string]note.Verifier, len(logs)), now: time.Now,
		state: make(map[string]*Log),
	}
	if opts != nil && opts.Now != nil {
		w.now = opts.Now
	}
	for _, v := range logs {
		if v == nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "witness: nil log verifier")
		}
		if _, dup := w.logs[v.Name()]; dup {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "witness: two verifiers for log %q", v.Name())
		}
		w.logs[v.Name()] = v
	}
	return w, nil
}

// Name is the witness's key name, the name on its cosignature lines.
func (w *Witness) Name() string { return w.name }

// VerifierKey is the witness's cosignature/v1 verifier key to publish;
// NewCosignatureVerifier turns it into a Policy witness.
func (w *Witness) VerifierKey() string { return w.vkey }

// Verifier verifies the witness's cosignatures (for Policy.Witnesses).
func (w *Witness) Verifier() note.Verifier { return w.ver }

// maxWitnessRetries bounds how often AddCheckpoint re-reads its state after
// losing the state log's compare-and-swap to another process.
const maxWitnessRetries = 8

// AddCheckpoint is tlog-witness's add-checkpoint: the log claims the
// witness last cosigned its tree at oldSize and proves (consistency, RFC
// 6962) that signed, its new checkpoint, extends it. If everything holds
// the witness records signed as its latest checkpoint of that log (durably,
// before answering) and returns its cosignature: note signature lines to
// append to signed (AddCosignatures).
//
// A checkpoint of a log the witness does not know is errs.ErrNotFound; one
// not signed by that log's key is errs.ErrUnauthenticated; an oldSize that
// is not the witness's latest is a *WitnessConflictError
// (errs.ErrConflict) carrying the latest size; a checkpoint smaller than
// oldSize is errs.ErrInvalidArgument; a consistency proof that does not
// verify, including a checkpoint of the latest size with another root (a
// fork), is errs.ErrUnauthenticated. On any error the state is unchanged.
// A cancelled ctx is errs.ErrUnavailable.
func (w *Witness) AddCheckpoint(ctx context.Context, oldSize uint64, consistency [][]byte, signed []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "witness: %w", err)
	}
	origin, _, _ := bytes.Cut(signed, []byte{'\n'})
	v, ok := w.logs[string(origin)]
	if !ok {
		return nil, errs.Errorf(errs.ErrNotFound, "witness %q: unknown log %q", w.name, origin)
	}
	cp, n, err := openNote(signed, v)
	if err != nil {
		return nil, err
	}
	for i, h := range consistency {
		if len(h) != hashSize {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "witness: consistency proof hash %d has %d bytes", i, len(h))
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := w.stateLog(ctx, cp.Origin)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := st.load(ctx); err != nil {
				return nil, err
			}
		}
		latest, err := w.latest(ctx, st, v)
		if err != nil {
			return nil, err
		}
		var latestSize uint64
		if latest != nil {
			latestSize = latest.Size
		}
		if oldSize != latestSize {
			return nil, &WitnessConflictError{Origin: cp.Origin, Size: latestSize}
		}
		if cp.Size < oldSize {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "witness: checkpoint of size %d is smaller than the old size %d", cp.Size, oldSize)
		}
		if latest == nil {
			if len(consistency) != 0 {
				return nil, errs.Errorf(errs.ErrUnauthenticated, "witness: a consistency proof from size 0 must be empty")
			}
		} else if err := proof.VerifyConsistency(hasher, latest.Size, cp.Size, consistency, latest.Hash, cp.Hash); err != nil {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "witness %q: checkpoint of %s at size %d is not consistent with the cosigned one at size %d (fork or bad proof): %v", w.name, cp.Origin, cp.Size, latest.Size, err)
		}
		t := w.now().Unix()
		if t < 0 {
			t = 0
		}
		line, err := cosign(w.name, w.hash, w.signer, uint64(t), []byte(n.Text))
		if err != nil {
			return nil, err
		}
		if latest != nil && latest.Size == cp.Size {
			// Same tree: the state does not change.
			return line, nil
		}
		record, err := AddCosignatures(signed, line)
		if err != nil {
			return nil, err
		}
		_, err = st.tryCommit(ctx, [][]byte{record}, [][]byte{LeafHash(record)}, []*Fields{nil})
		if err == nil {
			return line, nil
		}
		if !errors.Is(err, errs.ErrConflict) || attempt >= maxWitnessRetries {
			return nil, err
		}
	}
}

// Latest returns the latest checkpoint of origin the witness cosigned,
// with its cosignature, as recorded in its state; (nil, nil) when it never
// cosigned one. A state that fails verification is errs.ErrUnauthenticated.
func (w *Witness) Latest(ctx context.Context, origin string) ([]byte, error) {
	if _, ok := w.logs[origin]; !ok {
		return nil, errs.Errorf(errs.ErrNotFound, "witness %q: unknown log %q", w.name, origin)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := w.stateLog(ctx, origin)
	if err != nil {
		return nil, err
	}
	if st.size == 0 {
		return nil, nil
	}
	return st.Entry(ctx, st.size-1)
}

// stateLog opens (once) the witness's state log of origin.
func (w *Witness) stateLog(ctx context.Context, origin string) (*Log, error) {
	if l, ok := w.state[origin]; ok {
		if err := l.load(ctx); err != nil {
			return nil, err
		}
		return l, nil
	}
	l, err := openLog(ctx, w.store, WitnessStateLog(w.name, origin), w.signer, &Options{Origin: w.name + "/state/" + origin})
	if err != nil {
		return nil, err
	}
	w.state[origin] = l
	return l, nil
}

// latest reads the last checkpoint in the state log st, verified (the
// entry against st's checkpoint, the checkpoint against the log's key v).
func (w *Witness) latest(ctx context.Context, st *Log, v note.Verifier) (*Checkpoint, error) {
	if st.size == 0 {
		return nil, nil
	}
	entry, err := st.Entry(ctx, st.size-1)
	if err != nil {
		return nil, err
	}
	cp, err := openCheckpoint(entry, v)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "witness %q: recorded checkpoint of %s: %w", w.name, v.Name(), err)
	}
	return cp, nil
}

// Cosigner is a witness as a log sees it: a Witness, or a client of a
// remote tlog-witness.
type Cosigner interface {
	// AddCheckpoint is Witness.AddCheckpoint.
	AddCheckpoint(ctx context.Context, oldSize uint64, consistency [][]byte, signed []byte) ([]byte, error)
}

// Cosign asks each witness to cosign the log's latest checkpoint, proving
// consistency from the size each last cosigned (learned from its
// *WitnessConflictError answer when the log does not know it), and returns
// the checkpoint with every cosignature obtained, for Policy checks,
// receipts (Receipt.Checkpoint) and exports (ExportOptions.Checkpoint). It
// fails with the first witness's error (a refusal means the witness saw
// another tree: investigate, never retry blindly). Witnesses are
// remembered by value, so each must be comparable (a pointer, like
// *Witness).
func (l *Log) Cosign(ctx context.Context, witnesses ...Cosigner) ([]byte, error) {
	cp, signed, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	out := signed
	for _, w := range witnesses {
		l.cosignMu.Lock()
		old := l.cosigned[w]
		l.cosignMu.Unlock()
		var line []byte
		for attempt := 0; ; attempt++ {
			var pr [][]byte
			if old <= cp.Size {
				pr, err = l.ConsistencyProof(ctx, old, cp.Size)
			} else {
				err = errs.Errorf(errs.ErrConflict, "ledger %q: a witness cosigned size %d, beyond the log's %d", l.org, old, cp.Size)
			}
			if err == nil {
				line, err = w.AddCheckpoint(ctx, old, pr, signed)
			}
			var conflict *WitnessConflictError
			if err == nil || attempt > 0 || !errors.As(err, &conflict) || conflict.Size > cp.Size {
				break
			}
			old = conflict.Size
		}
		if err != nil {
			return nil, err
		}
		l.cosignMu.Lock()
		if l.cosigned == nil {
			l.cosigned = make(map[Cosigner]uint64)
		}
		l.cosigned[w] = cp.Size
		l.cosignMu.Unlock()
		if out, err = AddCosignatures(out, line); err != nil {
			return nil, err
		}
	}
	return out, nil
}
