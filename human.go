// Package human is the HUMAN SDK's entry point: a Client that governs what
// AI agents may do.
//
// Every risky action an agent takes goes through one call, [Client.Call]:
// the agent's delegation chain is verified back to a human, the action is
// checked against the chain's scope and the org's active policy, and the
// answer is allowed, denied, or pending until humans who hold the required
// capability approve with their own keys. Every decision, approval and
// identity change becomes a signed attestation in the org's Merkle log, and
// each comes with a receipt anyone can verify offline.
//
// # Profiles
//
// The same API runs embedded (stores in-process: SQLite by default, or any
// registered adapter named by URL) and, later, against a remote HUMAN
// server (HUMAN_BASE_URL). Only configuration changes between them.
package human

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/humanos/human/adapters"
	_ "github.com/humanos/human/adapters/memory" // mem:// is always available
	_ "github.com/humanos/human/adapters/sqlite" // the embedded default
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// DefaultOrg is the org namespace a client acts in when none is configured.
const DefaultOrg = "default"

// Config selects the profile and stores. The zero value is the embedded
// default: one SQLite file under ./human-data/ (or $HUMAN_DATA_DIR when
// read with FromEnv).
type Config struct {
	// Org is the namespace every operation of this client acts in.
	// Default DefaultOrg. Org names are lowercase letters, digits, '-', '_' and '.'.
	Org string
	// DataDir holds the embedded default's files: the SQLite database and
	// the org signing key. Default "./human-data".
	DataDir string
	// Store is the URL of the stores ("sqlite:///path/human.db", "mem://",
	// or a scheme a blank-imported adapter registered). Default: SQLite at
	// DataDir/human.db.
	Store string
	// Ledger, when set, is the URL of a separate store for the ledger (the
	// hybrid profile keeps the ledger in the org's own infrastructure).
	Ledger string
	// Graph, when set, is the URL of a separate store for the capability
	// graph (e.g. "neo4j://host:7687"; HUMAN_GRAPH).
	Graph string
	// Policies, when set, is the URL of a separate store for policy
	// versions (e.g. "s3://bucket/prefix"; HUMAN_POLICIES).
	Policies string
	// BaseURL selects the hosted profile: a remote HUMAN server, reached
	// with adapters/remote. OrgSigner (or OrgKeyFile) is then the org's
	// admin credential registered on the server, and Org names the org.
	// Ledger, Capabilities and Passports are nil in this profile.
	BaseURL string
	// OrgSigner signs attestations and ledger checkpoints: the deployment's
	// org key, never a human's. Default: an Ed25519 key kept in OrgKeyFile,
	// created on first use; for a mem:// store a fresh key per Open.
	OrgSigner passport.Signer
	// OrgKeyFile is where the default org signer's key lives (PKCS #8 PEM,
	// mode 0600). Default DataDir/keys/ORG.pem.
	OrgKeyFile string
	// AsyncAttest makes Call return as soon as its attestation is queued;
	// Outcome.Receipts then waits for durability. By default Call returns
	// only after the attestation is durable, so an allowed action always
	// has its record.
	AsyncAttest bool
	// ExpiryInterval is how often overdue approval tasks are resolved as
	// timed out in the background. Default one second.
	ExpiryInterval time.Duration
	// Notifier, when set, is told about every approval task event (opened,
	// warning, escalated, vote, timed out, cancelled) by the background
	// sweep, e.g. a webhook or Slack notifier from workforce/notify. Its
	// failures are retried on later sweeps, bounded; the ledger record of
	// each event stands regardless. Ignored in the hosted profile (the
	// server notifies).
	Notifier workforce.Notifier
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational messages. Default: discard.
	Logger *slog.Logger
	// Shadow, when set, evaluates every Call again on a second deployment
	// without enforcing it and counts divergences (ShadowReport); see
	// ShadowConfig (human_shadow.go). HUMAN_SHADOW_* in the environment.
	Shadow *ShadowConfig

	shadowOnly bool // this client is a shadow: read-only, no background sweep
}

// FromEnv reads the configuration from the environment and opens a client:
// HUMAN_ORG, HUMAN_DATA_DIR, HUMAN_STORE, HUMAN_LEDGER, HUMAN_GRAPH,
// HUMAN_POLICIES, HUMAN_BASE_URL,
// HUMAN_ORG_KEY_FILE.
func FromEnv(ctx context.Context) (*Client, error) {
	return Open(ctx, ConfigFromEnv())
}

// ConfigFromEnv returns the Config that FromEnv would use.
func ConfigFromEnv() Config {
	return Config{
		Org:        os.Getenv("HUMAN_ORG"),
		DataDir:    os.Getenv("HUMAN_DATA_DIR"),
		Store:      os.Getenv("HUMAN_STORE"),
		Ledger:     os.Getenv("HUMAN_LEDGER"),
		Graph:      os.Getenv("HUMAN_GRAPH"),
		Policies:   os.Getenv("HUMAN_POLICIES"),
		BaseURL:    os.Getenv("HUMAN_BASE_URL"),
		OrgKeyFile: os.Getenv("HUMAN_ORG_KEY_FILE"),
		Shadow:     ShadowConfigFromEnv(),
	}
}

// Client governs the agents of one org. It is safe for concurrent use.
type Client struct {
	cfg       Config
	org       string
	now       func() time.Time
	log       *slog.Logger
	closers   []func() error
	ledger    *ledger.Log
	passports *passport.Registry
	graph     *capability.Graph
	engine    *policy.Engine
	policies  *policy.Library
	budgets   *policy.Budgets
	shadow    atomic.Pointer[policy.Shadow]
	queue     *workforce.Queue
	rec       *recorder
	remote    *remoteProfile // set in the remote profile: every method delegates to it
	bundle    *bundleStores  // the raw stores and org signer, for Export/Import (human_bundle.go)
	shadowRun *shadowRunner  // the shadow profile, when Config.Shadow is set (human_shadow.go)

	stop     chan struct{}
	stopped  sync.WaitGroup
	closeErr error
	once     sync.Once
}

// Open opens a client with the given configuration.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Shadow != nil {
		return openShadowed(ctx, cfg) // human_shadow.go
	}
	if cfg.BaseURL != "" {
		return openRemote(ctx, cfg) // human_remote.go
	}
	if cfg.Org == "" {
		cfg.Org = DefaultOrg
	}
	if err := ValidateOrg(cfg.Org); err != nil {
		return nil, err
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "human-data"
	}
	if cfg.Store == "" {
		abs, err := filepath.Abs(filepath.Join(cfg.DataDir, "human.db"))
		if err != nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "data dir %q: %v", cfg.DataDir, err)
		}
		cfg.Store = "sqlite://" + filepath.ToSlash(abs)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ExpiryInterval <= 0 {
		cfg.ExpiryInterval = time.Second
	}
	c := &Client{cfg: cfg, org: cfg.Org, now: cfg.Now, log: cfg.Logger, stop: make(chan struct{})}
	if err := c.open(ctx); err != nil {
		c.closeAll()
		return nil, err
	}
	if !cfg.shadowOnly {
		c.stopped.Add(1)
		go c.expireLoop()
	}
	return c, nil
}

func (c *Client) open(ctx context.Context) error {
	st, err := adapters.Open(ctx, c.cfg.Store)
	if err != nil {
		return err
	}
	if st.Close != nil {
		c.closers = append(c.closers, st.Close)
	}
	ledgerStore := st.Ledger
	if c.cfg.Ledger != "" {
		ls, err := adapters.Open(ctx, c.cfg.Ledger)
		if err != nil {
			return fmt.Errorf("ledger store: %w", err)
		}
		if ls.Close != nil {
			c.closers = append(c.closers, ls.Close)
		}
		ledgerStore = ls.Ledger
	}
	if err := c.overrideStores(ctx, st); err != nil {
		return err
	}
	for name, missing := range map[string]bool{
		"passport": st.Passports == nil, "capability": st.Graph == nil, "policy": st.Policies == nil,
		"task": st.Tasks == nil, "ledger": ledgerStore == nil,
	} {
		if missing {
			return errs.Errorf(errs.ErrInvalidArgument, "store URL %q provides no %s store; set a URL for it", c.cfg.Store, name)
		}
	}
	signer := c.cfg.OrgSigner
	if signer == nil {
		if signer, err = c.defaultOrgSigner(); err != nil {
			return err
		}
	}
	if c.ledger, err = ledger.Open(ctx, ledgerStore, c.org, signer, &ledger.Options{Now: c.now}); err != nil {
		return err
	}
	c.closers = append(c.closers, c.ledger.Close)
	c.graph = capability.NewGraph(st.Graph, c.now)
	c.passports = passport.NewRegistry(st.Passports, passportAnchor(c.ledger, ledgerStore), c.now)
	if c.engine, err = policy.NewEngine(c.graph.Checker()); err != nil {
		return err
	}
	c.policies = policy.NewLibrary(st.Policies, c.engine)
	c.budgets = policy.NewBudgets(st.Budgets)
	c.rec = &recorder{log: c.ledger, receipts: map[string]*ledger.Receipt{}}
	c.queue = workforce.NewQueue(st.Tasks, keys{c.passports}, c.graph, c.rec, c.now, workforce.WithNotifier(c.cfg.Notifier))
	c.bundle = &bundleStores{stores: *st, signer: signer}
	return nil
}

// defaultOrgSigner loads the org key file, creating it on first use. A
// mem:// store gets a fresh key: its ledger does not outlive the process.
func (c *Client) defaultOrgSigner() (passport.Signer, error) {
	if strings.HasPrefix(c.cfg.Store, "mem:") && c.cfg.OrgKeyFile == "" {
		return passport.GenerateEd25519()
	}
	path := c.cfg.OrgKeyFile
	if path == "" {
		path = filepath.Join(c.cfg.DataDir, "keys", c.org+".pem")
	}
	return LoadOrCreateKeyFile(path)
}

// LoadOrCreateKeyFile reads an Ed25519 private key from a PKCS #8 PEM file,
// creating the file with a fresh key (mode 0600) if it does not exist. It is
// for org signers and CLI device keys: keys that belong on this machine.
func LoadOrCreateKeyFile(path string) (*passport.Ed25519Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		s, err := passport.GenerateEd25519()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(s.PrivateKey())
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, errs.Errorf(errs.ErrUnavailable, "key file: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateKeyFile(path) // another process created it first
		}
		if err != nil {
			return nil, errs.Errorf(errs.ErrUnavailable, "key file: %w", err)
		}
		werr := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if serr := f.Sync(); werr == nil {
			werr = serr
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, errs.Errorf(errs.ErrUnavailable, "key file %s: %w", path, werr)
		}
		return s, nil
	}
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "key file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "key file %s: no PRIVATE KEY PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "key file %s: %v", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "key file %s: %T is not an Ed25519 key", path, k)
	}
	return passport.NewEd25519Signer(priv), nil
}

// ValidateOrg reports whether name is a valid org namespace.
func ValidateOrg(name string) error {
	if name == "" || len(name) > 63 {
		return errs.Errorf(errs.ErrInvalidArgument, "org %q: want 1 to 63 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return errs.Errorf(errs.ErrInvalidArgument, "org %q: character %q not allowed (use a-z, 0-9, '-', '_', '.')", name, r)
		}
	}
	return nil
}

func (c *Client) expireLoop() {
	defer c.stopped.Done()
	t := time.NewTicker(c.cfg.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if _, err := c.queue.ExpireDue(context.Background()); err != nil {
				c.log.Warn("resolving overdue approval tasks", "err", err)
			}
		}
	}
}

// Close stops background work, flushes queued attestations and closes the
// stores. It is safe to call more than once.
func (c *Client) Close() error {
	c.once.Do(func() {
		close(c.stop)
		c.stopped.Wait()
		c.closeErr = c.closeAll()
	})
	return c.closeErr
}

func (c *Client) closeAll() error {
	var all []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		all = append(all, c.closers[i]())
	}
	c.closers = nil
	return errors.Join(all...)
}

// Org is the namespace this client acts in.
func (c *Client) Org() string { return c.org }

// Ledger is the org's log, for proofs, checkpoints and audits.
func (c *Client) Ledger() *ledger.Log { return c.ledger }

// LedgerKey is the ledger's checkpoint verifier key, the one public value a
// third party needs to verify receipts offline with VerifyReceipt.
func (c *Client) LedgerKey() string {
	if c.remote != nil {
		return c.remote.ledgerKey
	}
	return c.ledger.VerifierKey()
}

// Capabilities is the org's capability graph.
func (c *Client) Capabilities() *capability.Graph { return c.graph }

// Passports is the org's passport registry.
func (c *Client) Passports() *passport.Registry { return c.passports }

// VerifyReceipt checks a receipt offline against a ledger verifier key (as
// published by LedgerKey): the checkpoint signature, the leaf hash and the
// inclusion proof.
func VerifyReceipt(r *ledger.Receipt, ledgerKey string) error {
	v, err := ledger.NewVerifier(ledgerKey)
	if err != nil {
		return err
	}
	return ledger.VerifyReceipt(r, v)
}
