package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
)

// ExportOptions tune Export. The zero value (or nil) is fine.
type ExportOptions struct {
	Progress Progress
}

// Export writes the whole state of s.Org to dir, which must not exist or
// be empty, and returns the manifest. It needs s.Passports to implement
// passport.Lister, s.Graph capability.Lister (and capability.ClaimLister,
// capability.EvidenceLister when it is a capability.ClaimStore,
// capability.EvidenceStore), and s.Budgets (when set)
// policy.BudgetLister: errs.ErrFailedPrecondition names the store that
// does not. A cancelled ctx is errs.ErrUnavailable; a failed export leaves
// a partial directory without manifest.sig, which Verify refuses.
func Export(ctx context.Context, s *Stores, dir string, opts *ExportOptions) (*Manifest, error) {
	var o ExportOptions
	if opts != nil {
		o = *opts
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, uint64, uint64) {}
	}
	if s == nil || s.Log == nil || s.Signer == nil || s.Passports == nil || s.Graph == nil || s.Policies == nil || s.Tasks == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: export needs the log, signer, passport, graph, policy and task stores")
	}
	pl, ok := s.Passports.(passport.Lister)
	if !ok {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "bundle: the passport store (%T) cannot list passports (passport.Lister)", s.Passports)
	}
	gl, ok := s.Graph.(capability.Lister)
	if !ok {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "bundle: the graph store (%T) cannot list nodes and edges (capability.Lister)", s.Graph)
	}
	cl, el, err := graphExtraListers(s.Graph)
	if err != nil {
		return nil, err
	}
	var bl policy.BudgetLister
	if s.Budgets != nil {
		if bl, ok = s.Budgets.(policy.BudgetLister); !ok {
			return nil, errs.Errorf(errs.ErrFailedPrecondition, "bundle: the budget store (%T) cannot list counters (policy.BudgetLister)", s.Budgets)
		}
	}
	if !s.Signer.PublicKey().Equal(s.Log.PublicKey()) {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: the signer is not the log's key")
	}
	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	m := &Manifest{Format: Format, Version: Version, Org: s.Org, Created: s.Log.Now().UTC(),
		Origin: s.Log.Origin(), VerifierKey: s.Log.VerifierKey(), PublicKey: s.Signer.PublicKey().String(),
		Counts: map[string]int{}}
	org := s.Org

	part := func(name string, fill func(w *fileWriter) error) error {
		w, err := newFileWriter(dir, name)
		if err != nil {
			return err
		}
		ferr := fill(w)
		f, err := w.close()
		if ferr != nil {
			return ferr
		}
		if err != nil {
			return err
		}
		m.Files = append(m.Files, f)
		return nil
	}
	// pageIDs walks a paged ID listing.
	pageIDs := func(list func(after string) ([]string, error), each func(id string) error) error {
		after := ""
		for {
			ids, err := list(after)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := each(id); err != nil {
					return err
				}
			}
			if len(ids) < pageSize {
				return nil
			}
			after = ids[len(ids)-1]
		}
	}

	err = part(PassportsFile, func(w *fileWriter) error {
		return pageIDs(func(a string) ([]string, error) { return pl.ListPassports(ctx, org, a, pageSize) }, func(did string) error {
			raw, err := s.Passports.Events(ctx, org, did)
			if err != nil {
				return err
			}
			rec := passportRecord{DID: did, Events: raw}
			m.Counts[KindPassports]++
			m.Counts[KindEvents] += len(raw)
			progress(PassportsFile, uint64(m.Counts[KindPassports]), 0)
			return w.put(rec)
		})
	})
	for _, p := range []struct {
		file, kind string
		list       func(ctx context.Context, org, after string, limit int) ([]string, error)
		get        func(ctx context.Context, org, id string) ([]byte, error)
	}{
		{DelegationsFile, KindDelegations, pl.ListDelegations, s.Passports.Delegation},
		{RevocationsFile, KindRevocations, pl.ListRevocations, s.Passports.Revocation},
	} {
		if err != nil {
			break
		}
		err = part(p.file, func(w *fileWriter) error {
			return pageIDs(func(a string) ([]string, error) { return p.list(ctx, org, a, pageSize) }, func(id string) error {
				raw, err := p.get(ctx, org, id)
				if err != nil {
					return err
				}
				m.Counts[p.kind]++
				return w.put(envRecord{ID: id, Env: raw})
			})
		})
	}
	if err == nil {
		err = part(NodesFile, func(w *fileWriter) error {
			return pageIDs(func(a string) ([]string, error) {
				nodes, err := gl.ListNodes(ctx, org, a, pageSize)
				ids := make([]string, len(nodes))
				for i, n := range nodes {
					if err := w.put(n); err != nil {
						return nil, err
					}
					ids[i] = n.ID
				}
				m.Counts[KindNodes] += len(nodes)
				progress(NodesFile, uint64(m.Counts[KindNodes]), 0)
				return ids, err
			}, func(string) error { return nil })
		})
	}
	if err == nil {
		err = part(EdgesFile, func(w *fileWriter) error {
			var after capability.Edge
			for {
				edges, err := gl.ListEdges(ctx, org, after, pageSize)
				if err != nil {
					return err
				}
				for _, e := range edges {
					if err := w.put(e); err != nil {
						return err
					}
				}
				m.Counts[KindEdges] += len(edges)
				progress(EdgesFile, uint64(m.Counts[KindEdges]), 0)
				if len(edges) < pageSize {
					return nil
				}
				after = edges[len(edges)-1]
			}
		})
	}
	if err == nil {
		err = part(ClaimsFile, func(w *fileWriter) error {
			m.Counts[KindClaims] = 0
			if cl == nil {
				return nil
			}
			after := ""
			for {
				recs, err := cl.ListClaims(ctx, org, after, pageSize)
				if err != nil {
					return err
				}
				for _, r := range recs {
					if err := w.put(r); err != nil {
						return err
					}
				}
				m.Counts[KindClaims] += len(recs)
				progress(ClaimsFile, uint64(m.Counts[KindClaims]), 0)
				if len(recs) < pageSize {
					return nil
				}
				after = recs[len(recs)-1].ID
			}
		})
	}
	if err == nil {
		err = part(EvidenceFile, func(w *fileWriter) error {
			m.Counts[KindEvidence] = 0
			if el == nil {
				return nil
			}
			var after capability.EvidenceRecord
			for {
				recs, err := el.ListEvidence(ctx, org, after, pageSize)
				if err != nil {
					return err
				}
				for _, r := range recs {
					r.At = r.At.UTC()
					if err := w.put(r); err != nil {
						return err
					}
				}
				m.Counts[KindEvidence] += len(recs)
				progress(EvidenceFile, uint64(m.Counts[KindEvidence]), 0)
				if len(recs) < pageSize {
					return nil
				}
				after = recs[len(recs)-1]
			}
		})
	}
	if err == nil {
		err = part(PoliciesFile, func(w *fileWriter) error {
			latest, err := s.Policies.Latest(ctx, org)
			if err != nil {
				return err
			}
			for n := 1; n <= latest; n++ {
				doc, err := s.Policies.Version(ctx, org, n)
				if errors.Is(err, errs.ErrNotFound) {
					continue // versions need not be contiguous
				}
				if err != nil {
					return err
				}
				m.Counts[KindPolicies]++
				if err := w.put(policyRecord{Version: n, Doc: doc}); err != nil {
					return err
				}
			}
			active, _, err := s.Policies.Active(ctx, org)
			if err != nil && !errors.Is(err, errs.ErrNotFound) {
				return err
			}
			m.ActivePolicy = active
			return nil
		})
	}
	if err == nil {
		err = part(TasksFile, func(w *fileWriter) error {
			for _, st := range taskStates {
				tasks, err := s.Tasks.List(ctx, org, st, 0)
				if err != nil {
					return err
				}
				for _, t := range tasks {
					if err := w.put(t); err != nil {
						return err
					}
				}
				m.Counts[KindTasks] += len(tasks)
			}
			return nil
		})
	}
	if err == nil {
		err = part(BudgetsFile, func(w *fileWriter) error {
			if bl == nil {
				return nil
			}
			cs, err := bl.Counters(ctx, org)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if err := w.put(c); err != nil {
					return err
				}
			}
			m.Counts[KindCounters] = len(cs)
			return nil
		})
	}
	if err != nil {
		return nil, err
	}

	// The checkpoint last: every record read above is anchored inside it.
	cp, signed, err := s.Log.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	m.Checkpoint, m.Size = string(signed), cp.Size
	m.Counts[KindEntries] = int(cp.Size)
	sink := &hashSink{dir: filepath.Join(dir, LedgerDir), inner: ledger.DirSink(filepath.Join(dir, LedgerDir)), files: map[string]File{}}
	if _, err := s.Log.Export(ctx, sink, &ledger.ExportOptions{To: cp.Size, Progress: func(done, total uint64) {
		progress(LedgerDir, done, total)
	}}); err != nil {
		return nil, err
	}
	for _, f := range sink.files {
		m.Files = append(m.Files, f)
	}
	slices.SortFunc(m.Files, func(a, b File) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: manifest: %v", err)
	}
	raw = append(raw, '\n')
	env, err := passport.Seal(PayloadType, raw, s.Signer)
	if err != nil {
		return nil, err
	}
	sig, err := env.Marshal()
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: signature: %v", err)
	}
	if err := writeFileSync(filepath.Join(dir, ManifestFile), raw); err != nil {
		return nil, err
	}
	// The signature last: its presence marks a complete bundle.
	if err := writeFileSync(filepath.Join(dir, SignatureFile), append(sig, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

// graphExtraListers returns the listers of a graph store's claim record
// and evidence. A store that keeps neither has nothing to export (nil,
// nil); one that keeps them but cannot list them is
// errs.ErrFailedPrecondition: exporting without its claim record would
// let every claim applied before the move be replayed after it.
func graphExtraListers(g capability.Store) (capability.ClaimLister, capability.EvidenceLister, error) {
	cl, _ := g.(capability.ClaimLister)
	if _, ok := g.(capability.ClaimStore); ok && cl == nil {
		return nil, nil, errs.Errorf(errs.ErrFailedPrecondition, "bundle: the graph store (%T) keeps applied claims but cannot list them (capability.ClaimLister); without them a migrated org would accept replayed claims", g)
	}
	el, _ := g.(capability.EvidenceLister)
	if _, ok := g.(capability.EvidenceStore); ok && el == nil {
		return nil, nil, errs.Errorf(errs.ErrFailedPrecondition, "bundle: the graph store (%T) keeps capability evidence but cannot list it (capability.EvidenceLister)", g)
	}
	return cl, el, nil
}

// hashSink records the hash and size of every ledger file written.
type hashSink struct {
	dir   string
	inner ledger.ExportSink
	mu    sync.Mutex
	files map[string]File
}

func (h *hashSink) Put(ctx context.Context, path string, data []byte) error {
	if err := h.inner.Put(ctx, path, data); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	h.mu.Lock()
	h.files[path] = File{Path: LedgerDir + "/" + path, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	h.mu.Unlock()
	return nil
}

func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return errs.Errorf(errs.ErrUnavailable, "bundle: %w", err)
		}
		return nil
	}
	if err != nil {
		return errs.Errorf(errs.ErrUnavailable, "bundle: %w", err)
	}
	if len(entries) > 0 {
		return errs.Errorf(errs.ErrFailedPrecondition, "bundle: %s is not empty", dir)
	}
	return nil
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return errs.Errorf(errs.ErrUnavailable, "bundle: %w", err)
	}
	_, err = f.Write(data)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errs.Errorf(errs.ErrUnavailable, "bundle: %w", err)
	}
	return nil
}
