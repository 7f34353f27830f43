package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// ImportOptions tune Import. The zero value (or nil) is fine.
type ImportOptions struct {
	Progress Progress
}

// ImportReport is what an Import did.
type ImportReport struct {
	Manifest *Manifest
	// Written counts the records written per kind; a re-run of a completed
	// import writes none. LedgerFrom is the destination's log size before.
	Written    map[string]int
	LedgerFrom uint64
	// Skipped counts records per kind the destination cannot keep and
	// that were left out: capability evidence, when the destination graph
	// store is not a capability.EvidenceStore (it could not show it
	// either). Claim records are never skipped: such an import is refused.
	Skipped map[string]int
}

// Import verifies the bundle in dir (Verify, with dst's org key), checks
// that the destination does not contradict it, and only then writes it
// into dst. Errors before any write: those of Verify; errs.ErrInvalidArgument
// when the bundle is of another org; errs.ErrConflict when the destination
// log is not a prefix of the bundle's (another origin, a longer or another
// tree) or a destination record differs from the bundle's. Every write is
// idempotent: re-running an interrupted import completes it, re-running a
// completed one writes nothing.
func Import(ctx context.Context, dir string, dst *Stores, opts *ImportOptions) (*ImportReport, error) {
	var o ImportOptions
	if opts != nil {
		o = *opts
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, uint64, uint64) {}
	}
	if dst == nil || dst.Log == nil || dst.Passports == nil || dst.Graph == nil || dst.Policies == nil || dst.Tasks == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: import needs the log, passport, graph, policy and task stores")
	}
	key := dst.Log.PublicKey()
	m, err := Verify(ctx, dir, &VerifyOptions{Key: &key, Progress: progress})
	if err != nil {
		return nil, err
	}
	if m.Org != dst.Org {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: the bundle is of org %q, the destination is %q", m.Org, dst.Org)
	}
	if m.Origin != dst.Log.Origin() {
		return nil, errs.Errorf(errs.ErrConflict, "bundle: the destination log's origin is %q, the bundle's %q", dst.Log.Origin(), m.Origin)
	}
	cp, _, err := dst.Log.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if cp.Size > m.Size {
		return nil, errs.Errorf(errs.ErrConflict, "bundle: the destination log has %d entries, the bundle %d: it is not a prefix", cp.Size, m.Size)
	}
	lr := &tileEntries{dir: filepath.Join(dir, LedgerDir), size: m.Size}
	if cp.Size > 0 {
		root, err := lr.rootAt(ctx, cp.Size)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(root, cp.Hash) {
			return nil, errs.Errorf(errs.ErrConflict, "bundle: the destination log at size %d is another tree than the bundle's", cp.Size)
		}
	}
	if err := precheck(ctx, dir, m, dst); err != nil {
		return nil, err
	}

	// Writes, in reference order.
	rep := &ImportReport{Manifest: m, Written: map[string]int{}, Skipped: map[string]int{}, LedgerFrom: cp.Size}
	if err := lr.each(ctx, cp.Size, m.Size, func(batch [][]byte) error {
		var last *ledger.Pending
		for _, e := range batch {
			p, err := dst.Log.Submit(ctx, e)
			if err != nil {
				return err
			}
			last = p
		}
		if last != nil {
			if _, err := last.Wait(ctx); err != nil {
				return err
			}
		}
		rep.Written[KindEntries] += len(batch)
		progress(LedgerDir, cp.Size+uint64(rep.Written[KindEntries]), m.Size)
		return nil
	}); err != nil {
		return rep, err
	}
	after, _, err := dst.Log.Checkpoint(ctx)
	if err != nil {
		return rep, err
	}
	body, _, _ := strings.Cut(m.Checkpoint, "\n\n") // the note's signature was checked by Verify
	mcp, err := ledger.ParseCheckpoint([]byte(body + "\n"))
	if err != nil {
		return rep, err
	}
	if after.Size < m.Size {
		return rep, errs.Errorf(errs.ErrConflict, "bundle: the destination log has %d entries after import, want %d", after.Size, m.Size)
	}
	if after.Size == m.Size && !bytes.Equal(after.Hash, mcp.Hash) {
		return rep, errs.Errorf(errs.ErrConflict, "bundle: the destination log's root differs from the bundle's after import")
	}

	org := dst.Org
	err = eachLine(ctx, dir, PassportsFile, func(r *passportRecord) error {
		have, err := dst.Passports.Events(ctx, org, r.DID)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return err
		}
		kind := passportKindOf(r.Events)
		for i := len(have); i < len(r.Events); i++ {
			claims, _, err := eventClaims(r.Events[i], kind)
			if err != nil {
				return err
			}
			if err := dst.Passports.AppendEvent(ctx, org, r.DID, i, r.Events[i], claims); err != nil {
				return fmt.Errorf("bundle: passport %s event %d: %w", r.DID, i, err)
			}
			rep.Written[KindEvents]++
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for _, p := range []struct {
		file, kind string
		get        func(ctx context.Context, org, id string) ([]byte, error)
		put        func(ctx context.Context, org, id string, env []byte) error
	}{
		{DelegationsFile, KindDelegations, dst.Passports.Delegation, dst.Passports.PutDelegation},
		{RevocationsFile, KindRevocations, dst.Passports.Revocation, dst.Passports.PutRevocation},
	} {
		err = eachLine(ctx, dir, p.file, func(r *envRecord) error {
			if _, err := p.get(ctx, org, r.ID); err == nil {
				return nil // prechecked equal
			}
			rep.Written[p.kind]++
			return p.put(ctx, org, r.ID, r.Env)
		})
		if err != nil {
			return rep, err
		}
	}
	err = eachLine(ctx, dir, NodesFile, func(n *capability.Node) error {
		if have, err := dst.Graph.Node(ctx, org, n.ID); err == nil && have == *n {
			return nil
		}
		rep.Written[KindNodes]++
		return dst.Graph.PutNode(ctx, org, *n)
	})
	if err != nil {
		return rep, err
	}
	err = eachLine(ctx, dir, EdgesFile, func(e *capability.Edge) error {
		rep.Written[KindEdges]++ // PutEdge is idempotent; counted as written
		return dst.Graph.PutEdge(ctx, org, *e)
	})
	if err != nil {
		return rep, err
	}
	if err := importClaims(ctx, dir, m, dst, rep); err != nil {
		return rep, err
	}
	err = eachLine(ctx, dir, PoliciesFile, func(r *policyRecord) error {
		if _, err := dst.Policies.Version(ctx, org, r.Version); err == nil {
			return nil // prechecked equal
		}
		rep.Written[KindPolicies]++
		return dst.Policies.PutVersion(ctx, org, r.Version, r.Doc)
	})
	if err != nil {
		return rep, err
	}
	if m.ActivePolicy != 0 {
		cur, _, err := dst.Policies.Active(ctx, org)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return rep, err
		}
		if cur != m.ActivePolicy {
			if err := dst.Policies.SetActive(ctx, org, m.ActivePolicy, cur); err != nil {
				return rep, err
			}
		}
	}
	err = eachLine(ctx, dir, TasksFile, func(t *workforce.Task) error {
		have, err := dst.Tasks.Get(ctx, org, t.ID)
		if err == nil {
			if have.Version >= t.Version {
				return nil // already imported (or moved on at the destination)
			}
			return errs.Errorf(errs.ErrConflict, "bundle: task %s is at version %d at the destination, %d in the bundle", t.ID, have.Version, t.Version)
		}
		if !errors.Is(err, errs.ErrNotFound) {
			return err
		}
		rep.Written[KindTasks]++
		return dst.Tasks.Create(ctx, t)
	})
	if err != nil {
		return rep, err
	}
	if dst.Budgets != nil {
		err = eachLine(ctx, dir, BudgetsFile, func(c *policy.Counter) error {
			sp, err := dst.Budgets.Spend(ctx, org, []policy.Charge{{Key: c.Key, Start: c.Start, End: c.End, Amount: c.Total, Max: c.Total}})
			if err != nil {
				return err
			}
			if sp.Charged {
				rep.Written[KindCounters]++
			} else if len(sp.Totals) == 1 && sp.Totals[0] != c.Total {
				return errs.Errorf(errs.ErrConflict, "bundle: budget counter %q is %d at the destination, %d in the bundle", c.Key, sp.Totals[0], c.Total)
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func passportKindOf(events [][]byte) (k passport.Kind) {
	if len(events) == 0 {
		return ""
	}
	_, k, _ = eventClaims(events[0], "")
	return k
}

// precheck refuses, before any write, a destination whose passports,
// delegations, revocations, policy versions, claim records or evidence
// differ from the bundle's, and one that cannot keep the bundle's claim
// records.
func precheck(ctx context.Context, dir string, m *Manifest, dst *Stores) error {
	org := dst.Org
	if err := precheckClaims(ctx, dir, m, dst); err != nil {
		return err
	}
	err := eachLine(ctx, dir, PassportsFile, func(r *passportRecord) error {
		have, err := dst.Passports.Events(ctx, org, r.DID)
		if errors.Is(err, errs.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(have) > len(r.Events) {
			return errs.Errorf(errs.ErrConflict, "bundle: passport %s has %d events at the destination, %d in the bundle", r.DID, len(have), len(r.Events))
		}
		for i := range have {
			if !bytes.Equal(have[i], r.Events[i]) {
				return errs.Errorf(errs.ErrConflict, "bundle: passport %s event %d differs at the destination", r.DID, i)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range []struct {
		file string
		get  func(ctx context.Context, org, id string) ([]byte, error)
	}{{DelegationsFile, dst.Passports.Delegation}, {RevocationsFile, dst.Passports.Revocation}} {
		err := eachLine(ctx, dir, p.file, func(r *envRecord) error {
			have, err := p.get(ctx, org, r.ID)
			if errors.Is(err, errs.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if !bytes.Equal(have, r.Env) {
				return errs.Errorf(errs.ErrConflict, "bundle: %s %s differs at the destination", p.file, r.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return eachLine(ctx, dir, PoliciesFile, func(r *policyRecord) error {
		have, err := dst.Policies.Version(ctx, org, r.Version)
		if errors.Is(err, errs.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(have, r.Doc) {
			return errs.Errorf(errs.ErrConflict, "bundle: policy version %d differs at the destination", r.Version)
		}
		return nil
	})
}

// tileEntries reads the entries of a verified ledger export directory,
// one entry bundle at a time.
type tileEntries struct {
	dir  string
	size uint64
}

// each calls fn with the entries [start, end), a bundle at a time.
func (t *tileEntries) each(ctx context.Context, start, end uint64, fn func([][]byte) error) error {
	for n := start / ledger.TileWidth; n*ledger.TileWidth < end; n++ {
		if err := ctx.Err(); err != nil {
			return errs.Errorf(errs.ErrUnavailable, "bundle: %w", err)
		}
		width := int(min(uint64(ledger.TileWidth), t.size-n*ledger.TileWidth))
		raw, err := os.ReadFile(filepath.Join(t.dir, filepath.FromSlash(ledger.EntryBundlePath(n, width))))
		if err != nil {
			return errs.Errorf(errs.ErrNotFound, "bundle: ledger entry bundle %d: %v", n, err)
		}
		entries, err := ledger.ParseEntryBundle(raw, width)
		if err != nil {
			return err
		}
		if hi := n*ledger.TileWidth + uint64(len(entries)); hi > end {
			entries = entries[:len(entries)-int(hi-end)]
		}
		if skip := start - min(start, n*ledger.TileWidth); skip > 0 {
			entries = entries[skip:]
		}
		if err := fn(entries); err != nil {
			return err
		}
	}
	return nil
}

// rootAt is the root of the first size entries.
func (t *tileEntries) rootAt(ctx context.Context, size uint64) ([]byte, error) {
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	rng := rf.NewEmptyRange(0)
	err := t.each(ctx, 0, size, func(entries [][]byte) error {
		for _, e := range entries {
			if err := rng.Append(rfc6962.DefaultHasher.HashLeaf(e), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rng.GetRootHash(nil)
}
