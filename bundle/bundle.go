package bundle

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"os"
	"path/filepath"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// Format is the manifest's format line; Version is the newest bundle
// version this build reads and the one it writes.
const (
	Format  = "humanos.dev/bundle"
	Version = 1
	// PayloadType is the DSSE payload type of manifest.sig.
	PayloadType = "application/vnd.humanos.bundle-manifest+json"
)

// The files of a bundle.
const (
	ManifestFile    = "manifest.json"
	SignatureFile   = "manifest.sig"
	PassportsFile   = "passports.jsonl"
	DelegationsFile = "delegations.jsonl"
	RevocationsFile = "revocations.jsonl"
	NodesFile       = "nodes.jsonl"
	EdgesFile       = "edges.jsonl"
	PoliciesFile    = "policies.jsonl"
	TasksFile       = "tasks.jsonl"
	BudgetsFile     = "budgets.jsonl"
	// ClaimsFile and EvidenceFile came after the first bundles: a bundle
	// without them is read as one with none (see the package doc).
	ClaimsFile   = "capability_claims.jsonl"
	EvidenceFile = "capability_evidence.jsonl"
	LedgerDir    = "ledger"
)

// The kinds counted in Manifest.Counts.
const (
	KindPassports   = "passports"
	KindEvents      = "passport_events"
	KindDelegations = "delegations"
	KindRevocations = "revocations"
	KindNodes       = "nodes"
	KindEdges       = "edges"
	KindPolicies    = "policy_versions"
	KindTasks       = "tasks"
	KindCounters    = "budget_counters"
	KindEntries     = "ledger_entries"
	KindClaims      = "capability_claims"
	KindEvidence    = "capability_evidence"
)

// Kinds returns every kind counted in Manifest.Counts, in the order the
// bundle lists them (a fresh slice each call).
func Kinds() []string {
	return []string{KindPassports, KindEvents, KindDelegations, KindRevocations, KindNodes, KindEdges,
		KindPolicies, KindTasks, KindCounters, KindClaims, KindEvidence, KindEntries}
}

// Manifest describes a bundle (manifest.json).
type Manifest struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Org     string    `json:"org"`
	Created time.Time `json:"created"`
	// Origin is the ledger's origin line; VerifierKey its note verifier
	// key; PublicKey the org signer's key (passport.PublicKey text), which
	// signs manifest.sig, the checkpoints and every attestation.
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
	PublicKey   string `json:"public_key"`
	// Checkpoint is the signed checkpoint the ledger was exported at; Size
	// its tree size.
	Checkpoint string `json:"checkpoint"`
	Size       uint64 `json:"size"`
	// ActivePolicy is the active policy version at export, 0 for none.
	ActivePolicy int `json:"active_policy"`
	// Counts are the records per kind (the Kind constants).
	Counts map[string]int `json:"counts"`
	// Files lists every file of the bundle but the manifest and its
	// signature, sorted by path.
	Files []File `json:"files"`
}

// File is one listed bundle file.
type File struct {
	Path   string `json:"path"` // slash-separated, relative to the bundle
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// passportRecord is one line of passports.jsonl.
type passportRecord struct {
	DID    string   `json:"did"`
	Events [][]byte `json:"events"` // exactly the stored bytes
}

// envRecord is one line of delegations.jsonl and revocations.jsonl.
type envRecord struct {
	ID  string `json:"id"`
	Env []byte `json:"env"` // exactly the stored bytes
}

// policyRecord is one line of policies.jsonl.
type policyRecord struct {
	Version int    `json:"version"`
	Doc     []byte `json:"doc"`
}

// Stores are an org's stores and log: what Export reads and Import writes.
type Stores struct {
	Org string
	// Log is the org's ledger; its signer is the org key.
	Log *ledger.Log
	// Signer is the org signer (the Log's key): it signs the manifest.
	// Import needs only its public key.
	Signer    passport.Signer
	Passports passport.Store
	Graph     capability.Store
	Policies  policy.Store
	Tasks     workforce.Store
	// Budgets may be nil: no counters are exported or imported.
	Budgets policy.BudgetStore
}

// Progress, when set, is told what is being done: a stage name (a file
// or "ledger"), and records done so far out of total (total 0: unknown).
type Progress func(stage string, done, total uint64)

// pageSize is how many records Export and Import hold at a time.
const pageSize = 500

// taskStates are every workforce state, for listing all tasks.
var taskStates = []workforce.State{workforce.Pending, workforce.Assigned, workforce.Escalated,
	workforce.Approved, workforce.Denied, workforce.TimedOut, workforce.Cancelled}

// fileWriter writes one JSONL part, hashing as it goes.
type fileWriter struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	h    hash.Hash
	n    int64
	enc  *json.Encoder
}

func newFileWriter(dir, name string) (*fileWriter, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "bundle: %w", err)
	}
	w := &fileWriter{path: name, f: f, buf: bufio.NewWriterSize(f, 1<<16), h: sha256.New()}
	w.enc = json.NewEncoder(w)
	return w, nil
}

func (w *fileWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	w.n += int64(len(p))
	return w.buf.Write(p)
}

func (w *fileWriter) put(v any) error {
	if err := w.enc.Encode(v); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "bundle: %s: %w", w.path, err)
	}
	return nil
}

func (w *fileWriter) close() (File, error) {
	err := w.buf.Flush()
	if serr := w.f.Sync(); err == nil {
		err = serr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, errs.Errorf(errs.ErrUnavailable, "bundle: %s: %w", w.path, err)
	}
	return File{Path: w.path, SHA256: hex.EncodeToString(w.h.Sum(nil)), Size: w.n}, nil
}
