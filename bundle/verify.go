package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// VerifyOptions tune Verify. The zero value trusts the key in the bundle,
// which proves only that the bundle is intact and self-consistent.
type VerifyOptions struct {
	// Key, when set, is the org key the bundle must be signed with (an
	// importer's own org signer): any other signer is a foreign signature.
	Key *passport.PublicKey
	// Now is the clock for replaying passport logs; zero: time.Now.
	Now      time.Time
	Progress Progress
}

// Verify checks the bundle in dir completely without writing anything
// (see the package doc for the list) and returns its manifest. Errors:
// errs.ErrNotFound for a missing part; errs.ErrFailedPrecondition for a
// bundle version newer than Version; errs.ErrPermissionDenied for a
// signature by another key than opts.Key; errs.ErrUnauthenticated for a
// bad signature, a changed byte, an unlisted file, a ledger that does not
// verify or a record whose signature fails; errs.ErrInvalidArgument for a
// malformed bundle. A cancelled ctx is errs.ErrUnavailable.
func Verify(ctx context.Context, dir string, opts *VerifyOptions) (*Manifest, error) {
	var o VerifyOptions
	if opts != nil {
		o = *opts
	}
	if o.Progress == nil {
		o.Progress = func(string, uint64, uint64) {}
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	m, err := verifyManifest(dir, o.Key)
	if err != nil {
		return nil, err
	}
	if err := verifyFiles(ctx, dir, m); err != nil {
		return nil, err
	}
	rep, err := ledger.VerifyExport(ctx, os.DirFS(filepath.Join(dir, LedgerDir)), &ledger.VerifyExportOptions{
		VerifierKey: m.VerifierKey,
		Progress:    func(done, total uint64) { o.Progress(LedgerDir, done, total) },
	})
	if err != nil {
		return nil, fmt.Errorf("bundle: ledger: %w", err)
	}
	if rep.Origin != m.Origin || rep.Size != m.Size || rep.From != 0 {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "bundle: ledger export (origin %q, entries %d..%d) is not the manifest's (origin %q, size %d)",
			rep.Origin, rep.From, rep.Size, m.Origin, m.Size)
	}
	cp, err := os.ReadFile(filepath.Join(dir, LedgerDir, ledger.ExportCheckpointFile))
	if err != nil {
		return nil, errs.Errorf(errs.ErrNotFound, "bundle: %v", err)
	}
	if !bytes.Equal(cp, []byte(m.Checkpoint)) {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "bundle: the ledger's checkpoint is not the manifest's")
	}
	if err := verifyRecords(ctx, dir, m, o); err != nil {
		return nil, err
	}
	return m, nil
}

// verifyManifest reads the manifest, checks its version and signature.
func verifyManifest(dir string, want *passport.PublicKey) (*Manifest, error) {
	raw, err := readPart(dir, ManifestFile)
	if err != nil {
		return nil, err
	}
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.Format != Format {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: %s is not a %s manifest", ManifestFile, Format)
	}
	if head.Version > Version {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "bundle: version %d is newer than this build reads (%d); upgrade first", head.Version, Version)
	}
	if head.Version < 1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: version %d", head.Version)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: %s: %v", ManifestFile, err)
	}
	key, err := passport.ParsePublicKey(m.PublicKey)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: manifest key: %v", err)
	}
	sigRaw, err := readPart(dir, SignatureFile)
	if err != nil {
		return nil, err
	}
	env, err := passport.ParseEnvelope(bytes.TrimSpace(sigRaw))
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "bundle: %s: %v", SignatureFile, err)
	}
	if env.PayloadType != PayloadType || !bytes.Equal(env.Payload, raw) {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "bundle: %s does not sign this %s", SignatureFile, ManifestFile)
	}
	if want != nil && !want.Equal(key) {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "bundle: signed by %s, not by this deployment's org key %s (foreign signature; move the org key first)", key, *want)
	}
	if err := env.VerifiedBy(key); err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "bundle: manifest signature: %v", err)
	}
	// The manifest key must be the ledger's key.
	if vk, err := ledger.NewVerifier(m.VerifierKey); err != nil || vk.Name() != m.Origin {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "bundle: verifier key %q does not name origin %q", m.VerifierKey, m.Origin)
	}
	var lm ledger.ExportManifest
	lraw, err := readPart(dir, LedgerDir+"/"+ledger.ExportManifestFile)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(lraw, &lm); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "bundle: ledger manifest: %v", err)
	}
	if lk, err := passport.ParsePublicKey(lm.PublicKey); err != nil || !lk.Equal(key) || lm.VerifierKey != m.VerifierKey {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "bundle: the manifest is signed by another key than the ledger's")
	}
	return &m, nil
}

// lists reports whether the manifest lists the file at path.
func (m *Manifest) lists(path string) bool {
	for _, f := range m.Files {
		if f.Path == path {
			return true
		}
	}
	return false
}

func readPart(dir, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.Errorf(errs.ErrNotFound, "bundle: missing part %s", name)
	}
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "bundle: %v", err)
	}
	return b, nil
}

// verifyFiles checks that dir holds exactly the listed files, unchanged.
func verifyFiles(ctx context.Context, dir string, m *Manifest) error {
	listed := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		listed[f.Path] = f
	}
	for _, name := range []string{PassportsFile, DelegationsFile, RevocationsFile, NodesFile, EdgesFile, PoliciesFile, TasksFile, BudgetsFile} {
		if _, ok := listed[name]; !ok {
			return errs.Errorf(errs.ErrInvalidArgument, "bundle: manifest does not list %s", name)
		}
	}
	seen := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return errs.Errorf(errs.ErrUnavailable, "bundle: %w", err)
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == ManifestFile || rel == SignatureFile {
			return nil
		}
		f, ok := listed[rel]
		if !ok {
			return errs.Errorf(errs.ErrUnauthenticated, "bundle: %s is not listed in the signed manifest", rel)
		}
		seen++
		h := sha256.New()
		r, err := os.Open(path)
		if err != nil {
			return err
		}
		n, err := io.Copy(h, r)
		r.Close()
		if err != nil {
			return err
		}
		if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
			return errs.Errorf(errs.ErrUnauthenticated, "bundle: %s changed since it was signed (size %d, listed %d)", rel, n, f.Size)
		}
		return nil
	})
	if err != nil {
		if errs.Kind(err) == nil {
			return errs.Errorf(errs.ErrUnavailable, "bundle: %v", err)
		}
		return err
	}
	if seen != len(listed) {
		for _, f := range m.Files {
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path))); err != nil {
				return errs.Errorf(errs.ErrNotFound, "bundle: missing part %s", f.Path)
			}
		}
	}
	return nil
}

// eachLine decodes every JSON line of a part into a fresh T.
func eachLine[T any](ctx context.Context, dir, name string, fn func(*T) error) error {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return errs.Errorf(errs.ErrNotFound, "bundle: missing part %s", name)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for line := 1; ; line++ {
		if err := ctx.Err(); err != nil {
			return errs.Errorf(errs.ErrUnavailable, "bundle: %w", err)
		}
		v := new(T)
		if err := dec.Decode(v); err == io.EOF {
			return nil
		} else if err != nil {
			return errs.Errorf(errs.ErrInvalidArgument, "bundle: %s record %d: %v", name, line, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

// verifyRecords parses every record, checks signatures and the counts.
func verifyRecords(ctx context.Context, dir string, m *Manifest, o VerifyOptions) error {
	counts := map[string]int{KindEntries: int(m.Size)}
	staging := memory.NewPassportStore()
	const org = "bundle"
	var dids []string
	err := eachLine(ctx, dir, PassportsFile, func(r *passportRecord) error {
		if !passport.ValidDID(r.DID) || len(r.Events) == 0 {
			return errs.Errorf(errs.ErrInvalidArgument, "bundle: passport %q without events", r.DID)
		}
		kind := passport.Kind("")
		for i, raw := range r.Events {
			claims, k, err := eventClaims(raw, kind)
			if err != nil {
				return fmt.Errorf("bundle: passport %s event %d: %w", r.DID, i, err)
			}
			kind = k
			if err := staging.AppendEvent(ctx, org, r.DID, i, raw, claims); err != nil {
				return fmt.Errorf("bundle: passport %s event %d: %w", r.DID, i, err)
			}
		}
		dids = append(dids, r.DID)
		counts[KindPassports]++
		counts[KindEvents] += len(r.Events)
		return nil
	})
	if err != nil {
		return err
	}
	reg := passport.NewRegistry(staging, nil, func() time.Time { return o.Now })
	for i, did := range dids {
		p, err := reg.Get(ctx, org, did)
		if err != nil {
			return fmt.Errorf("bundle: passport %s: %w", did, err)
		}
		if p.DID != did {
			return errs.Errorf(errs.ErrUnauthenticated, "bundle: passport listed as %s is %s", did, p.DID)
		}
		o.Progress(PassportsFile, uint64(i+1), uint64(len(dids)))
	}
	signedByIssuer := func(what, id, issuer string, env *passport.Envelope) error {
		p, err := reg.Get(ctx, org, issuer)
		if err != nil {
			return fmt.Errorf("bundle: %s %s: issuer %s: %w", what, id, issuer, err)
		}
		for _, kp := range p.KeyHistory {
			if env.VerifiedBy(kp.Key) == nil {
				return nil
			}
		}
		return errs.Errorf(errs.ErrUnauthenticated, "bundle: %s %s is not signed by a key of %s", what, id, issuer)
	}
	err = eachLine(ctx, dir, DelegationsFile, func(r *envRecord) error {
		env, err := passport.ParseEnvelope(r.Env)
		if err != nil {
			return fmt.Errorf("bundle: delegation %s: %w", r.ID, err)
		}
		d, err := passport.ParseDelegation(env)
		if err != nil {
			return fmt.Errorf("bundle: delegation %s: %w", r.ID, err)
		}
		if d.ID != r.ID {
			return errs.Errorf(errs.ErrUnauthenticated, "bundle: delegation listed as %s is %s", r.ID, d.ID)
		}
		counts[KindDelegations]++
		if _, err := reg.Get(ctx, org, d.Issuer); errors.Is(err, errs.ErrNotFound) && d.Parent != "" {
			return nil // issued by an agent under Parent; the chain is checked on use
		}
		return signedByIssuer("delegation", r.ID, d.Issuer, env)
	})
	if err != nil {
		return err
	}
	err = eachLine(ctx, dir, RevocationsFile, func(r *envRecord) error {
		env, err := passport.ParseEnvelope(r.Env)
		if err != nil {
			return fmt.Errorf("bundle: revocation %s: %w", r.ID, err)
		}
		rv, err := passport.ParseRevocation(env)
		if err != nil {
			return fmt.Errorf("bundle: revocation %s: %w", r.ID, err)
		}
		if rv.Delegation != r.ID {
			return errs.Errorf(errs.ErrUnauthenticated, "bundle: revocation listed for %s revokes %s", r.ID, rv.Delegation)
		}
		counts[KindRevocations]++
		return signedByIssuer("revocation", r.ID, rv.Revoker, env)
	})
	if err != nil {
		return err
	}
	err = eachLine(ctx, dir, NodesFile, func(n *capability.Node) error {
		if n.ID == "" || !n.Kind.Valid() {
			return errs.Errorf(errs.ErrInvalidArgument, "bundle: node %q of kind %q", n.ID, n.Kind)
		}
		counts[KindNodes]++
		return nil
	})
	if err != nil {
		return err
	}
	err = eachLine(ctx, dir, EdgesFile, func(e *capability.Edge) error {
		if e.From == "" || e.To == "" || !e.Kind.Valid() {
			return errs.Errorf(errs.ErrInvalidArgument, "bundle: edge %q -%s-> %q", e.From, e.Kind, e.To)
		}
		counts[KindEdges]++
		return nil
	})
	if err != nil {
		return err
	}
	if m.lists(ClaimsFile) {
		prev := ""
		err = eachLine(ctx, dir, ClaimsFile, func(r *capability.ClaimRecord) error {
			if err := r.Validate(); err != nil {
				return fmt.Errorf("bundle: %s: %w", ClaimsFile, err)
			}
			if counts[KindClaims] > 0 && r.ID <= prev {
				return errs.Errorf(errs.ErrInvalidArgument, "bundle: %s: claim %q after %q: not in listing order", ClaimsFile, r.ID, prev)
			}
			prev = r.ID
			counts[KindClaims]++
			return nil
		})
		if err != nil {
			return err
		}
	}
	if m.lists(EvidenceFile) {
		var prev capability.EvidenceRecord
		err = eachLine(ctx, dir, EvidenceFile, func(r *capability.EvidenceRecord) error {
			if err := r.Validate(); err != nil {
				return fmt.Errorf("bundle: %s: %w", EvidenceFile, err)
			}
			if counts[KindEvidence] > 0 && !capability.EvidenceLess(prev, *r) {
				return errs.Errorf(errs.ErrInvalidArgument, "bundle: %s: evidence %s/%s/%s after %s/%s/%s: not in listing order",
					EvidenceFile, r.Subject, r.Capability, r.Ref, prev.Subject, prev.Capability, prev.Ref)
			}
			prev = *r
			counts[KindEvidence]++
			return nil
		})
		if err != nil {
			return err
		}
	}
	activeSeen := m.ActivePolicy == 0
	err = eachLine(ctx, dir, PoliciesFile, func(r *policyRecord) error {
		if r.Version < 1 || len(r.Doc) == 0 {
			return errs.Errorf(errs.ErrInvalidArgument, "bundle: policy version %d", r.Version)
		}
		activeSeen = activeSeen || r.Version == m.ActivePolicy
		counts[KindPolicies]++
		return nil
	})
	if err != nil {
		return err
	}
	if !activeSeen {
		return errs.Errorf(errs.ErrInvalidArgument, "bundle: active policy version %d is not in the bundle", m.ActivePolicy)
	}
	err = eachLine(ctx, dir, TasksFile, func(t *workforce.Task) error {
		if t.ID == "" || t.Org != m.Org {
			return errs.Errorf(errs.ErrInvalidArgument, "bundle: task %q of org %q", t.ID, t.Org)
		}
		counts[KindTasks]++
		return nil
	})
	if err != nil {
		return err
	}
	err = eachLine(ctx, dir, BudgetsFile, func(c *policy.Counter) error {
		if c.Key == "" || c.Total <= 0 || !c.End.After(c.Start) {
			return errs.Errorf(errs.ErrInvalidArgument, "bundle: budget counter %q", c.Key)
		}
		counts[KindCounters]++
		return nil
	})
	if err != nil {
		return err
	}
	for k, n := range m.Counts {
		if counts[k] != n {
			return errs.Errorf(errs.ErrUnauthenticated, "bundle: %d %s, the manifest says %d", counts[k], k, n)
		}
	}
	for k, n := range counts {
		if m.Counts[k] != n {
			return errs.Errorf(errs.ErrUnauthenticated, "bundle: %d %s, the manifest says %d", n, k, m.Counts[k])
		}
	}
	return nil
}

// eventClaims returns the keys a stored passport event claims in its org
// (as passport.Registry does: the keys a human passport gains), and the
// passport's kind (from the inception; kind is that of earlier events).
func eventClaims(raw []byte, kind passport.Kind) ([]string, passport.Kind, error) {
	env, err := passport.ParseEnvelope(raw)
	if err != nil {
		return nil, kind, err
	}
	ev, err := passport.ParseEvent(env)
	if err != nil {
		return nil, kind, err
	}
	if ev.Type == passport.EventInception {
		kind = ev.Kind
	}
	var claims []string
	if kind == passport.KindHuman {
		switch ev.Type {
		case passport.EventInception, passport.EventRotation, passport.EventDeviceAdded, passport.EventRecovery:
			for _, k := range ev.Keys {
				claims = append(claims, k.String())
			}
		}
	}
	return claims, kind, nil
}
