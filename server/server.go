// Package server is the HUMAN reference server: the REST API over package
// human that the hosted, hybrid and self-hosted profiles run, and that
// adapters/remote talks to.
//
// One Server serves many orgs. Each enrolled org gets its own embedded
// human.Client (its own ledger log, signing key and namespace) over the
// configured stores. Every /v1 route except the OpenAPI document requires
// a request signed with HTTP Message Signatures (RFC 9421, see
// internal/wire): by the org's admin key for management routes, or by the
// key of a passport registered in the org, or with HMAC-SHA256 under a
// short-lived session key one of them opened (POST /v1/sessions). The org
// always comes from the authenticated key id, never from the request.
//
// Operations: /health (liveness), /ready (stores reachable), /metrics
// (Prometheus), structured JSON logs with request ids and no secrets,
// per-principal rate and concurrency limits, and Close, which flushes every
// org's ledger.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// Config configures a Server. The zero value serves the embedded SQLite
// default under ./human-data with closed enrollment.
type Config struct {
	// Library is the template of every org's client configuration: stores,
	// data directory, ledger URL, expiry interval, clock. Its Org, BaseURL,
	// OrgSigner and OrgKeyFile are ignored: each org's ledger key lives in
	// DataDir/keys/ORG.pem.
	Library human.Config
	// Admins are org admin credentials configured by the operator, in
	// addition to those enrolled at run time.
	Admins map[string][]passport.PublicKey
	// OpenEnrollment lets anyone create a new org with POST /v1/orgs,
	// signed by the key that becomes the org's admin credential.
	OpenEnrollment bool
	// Rate is each principal's sustained request rate per second and Burst
	// its burst. Rate 0 means unlimited. Default burst: 2×Rate.
	Rate  float64
	Burst int
	// Concurrency caps each principal's requests in flight. 0 means 64;
	// negative means unlimited.
	Concurrency int
	// SignatureWindow is how far a signature's created time may be from
	// the server's clock. Default 5 minutes.
	SignatureWindow time.Duration
	// SessionSecret keys the sessions of POST /v1/sessions: the tag of
	// every session key id and every session key derive from it. At least
	// MinSessionSecret bytes; servers that share it accept each other's
	// sessions. Changing it alone ends every session (clients open a new
	// one); see PreviousSessionSecrets. Empty: a random per-process
	// secret, so sessions end on restart. Never logged; New keeps its own
	// copy and clears the field.
	SessionSecret []byte
	// PreviousSessionSecrets are secrets SessionSecret replaced: a session
	// whose key id was issued under one of them is still accepted until
	// its own expiry, while POST /v1/sessions issues only under
	// SessionSecret. Each at least MinSessionSecret bytes, none equal to
	// SessionSecret or to another; they need a SessionSecret. Drop them
	// one session TTL after the rotation. Never logged; New keeps its own
	// copies and clears the field.
	PreviousSessionSecrets [][]byte
	// SessionTTL is a session's lifetime: default DefaultSessionTTL (5
	// minutes), at most MaxSessionTTL (1 hour).
	SessionTTL time.Duration
	// MaxWait caps a long poll on a task outcome. Default 30 seconds.
	MaxWait time.Duration
	// Logger receives the JSON request log. Default: discard.
	Logger *slog.Logger
	// Registry receives the server's metrics. Default: a new registry.
	Registry *prometheus.Registry
	// App configures the approver's inbox web app served under /app/.
	App AppConfig
	// Role is RoleAll (the default, also "") or RoleLedger: a ledger node
	// that serves only the ledger-store protocol over Library.Ledger (else
	// Library.Store) to the org admins in Admins and enrolled ones.
	Role string
	// TracerProvider, when set, receives a span per request (OpenTelemetry;
	// the W3C traceparent of the request is honoured). Nil: no tracing,
	// at no cost. `human serve` sets an OTLP exporter when
	// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
	TracerProvider trace.TracerProvider
}

// Server is the HUMAN REST server. It is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	orgFile string

	mu      sync.Mutex
	admins  map[string][]passport.PublicKey // org -> admin keys (operator + enrolled)
	enroled map[string][]passport.PublicKey // the enrolled part, persisted in orgFile
	clients map[string]*orgClient

	nonces        *nonceCache
	sessionSecret []byte
	prevSecrets   [][]byte // Config.PreviousSessionSecrets: accepted, never issued under
	limits        *limiter
	metrics       *metrics
	draining      chan struct{}
	drainOne      sync.Once
	routes        []*route
	appOnce       sync.Once
	appState      *app        // the /app/ web inbox, built on first Handler call
	node          *ledgerNode // set in the ledger role
}

// testClock is nil in every normal build. Built with the humantestclock
// tag (testclock.go, for the scenario suite only), it wraps the server's
// clock in one that an org admin can move forward, and returns the route
// that moves it. Production binaries contain neither.
var testClock func(now func() time.Time) (func() time.Time, *route)

type orgClient struct {
	once sync.Once
	c    *human.Client
	err  error
	open atomic.Pointer[human.Client] // c once open, for readers that must not wait on once
}

// New returns a server. It opens the clients of every known org, so a
// store that cannot be reached fails start-up rather than the first call.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Library.DataDir == "" {
		cfg.Library.DataDir = "human-data"
	}
	if cfg.Library.Now == nil {
		cfg.Library.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Library.Logger == nil {
		cfg.Library.Logger = cfg.Logger
	}
	if cfg.SignatureWindow <= 0 {
		cfg.SignatureWindow = 5 * time.Minute
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Second
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 64
	}
	if cfg.Rate > 0 && cfg.Burst <= 0 {
		cfg.Burst = int(2*cfg.Rate) + 1
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	var clockRoute *route
	if testClock != nil { // only in binaries built with -tags humantestclock
		cfg.Library.Now, clockRoute = testClock(cfg.Library.Now)
	}
	switch cfg.Role {
	case "", RoleAll:
		cfg.Role = RoleAll
	case RoleLedger:
	default:
		return nil, errs.Errorf(errs.ErrInvalidArgument, "role %q: want %q or %q", cfg.Role, RoleAll, RoleLedger)
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, now: cfg.Library.Now,
		orgFile: filepath.Join(cfg.Library.DataDir, "server", "orgs.json"),
		admins:  map[string][]passport.PublicKey{}, enroled: map[string][]passport.PublicKey{},
		clients: map[string]*orgClient{}, draining: make(chan struct{}),
		nonces: newNonceCache(defaultNonces), limits: newLimiter(cfg.Rate, cfg.Burst, cfg.Concurrency),
	}
	if err := s.initSessions(); err != nil { // session.go
		return nil, err
	}
	for org, keys := range cfg.Admins {
		if err := human.ValidateOrg(org); err != nil {
			return nil, err
		}
		s.admins[org] = append(s.admins[org], keys...)
	}
	if err := s.loadOrgs(); err != nil {
		return nil, err
	}
	s.metrics = newMetrics(cfg.Registry)
	if cfg.Role == RoleLedger {
		if err := s.openLedgerNode(ctx); err != nil {
			return nil, err
		}
		s.routes = s.ledgerRouteTable()
		return s, nil
	}
	// The SQLite ledger index's health, over the org clients' handles on
	// the one database file they share (ledgerIndexStatus).
	cfg.Registry.MustRegister(newLedgerIndexCollectorOf(s.ledgerIndexReporters, s.log))
	s.routes = s.routeTable()
	if clockRoute != nil {
		s.routes = append(s.routes, clockRoute)
	}
	for _, org := range slices.Sorted(maps.Keys(s.admins)) {
		if _, err := s.client(ctx, org); err != nil {
			s.Close()
			return nil, fmt.Errorf("org %s: %w", org, err)
		}
	}
	return s, nil
}

// orgsFile is the persisted form of enrolled orgs.
type orgsFile struct {
	Orgs map[string][]string `json:"orgs"`
}

func (s *Server) loadOrgs() error {
	data, err := os.ReadFile(s.orgFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return errs.Errorf(errs.ErrUnavailable, "orgs file: %w", err)
	}
	var f orgsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return errs.Errorf(errs.ErrInvalidArgument, "orgs file %s: %v", s.orgFile, err)
	}
	for org, keys := range f.Orgs {
		if err := human.ValidateOrg(org); err != nil {
			return fmt.Errorf("orgs file %s: %w", s.orgFile, err)
		}
		for _, ks := range keys {
			k, err := passport.ParsePublicKey(ks)
			if err != nil {
				return fmt.Errorf("orgs file %s: %w", s.orgFile, err)
			}
			s.enroled[org] = append(s.enroled[org], k)
			s.admins[org] = append(s.admins[org], k)
		}
	}
	return nil
}

// saveOrgs writes the enrolled orgs atomically. Called with s.mu held.
func (s *Server) saveOrgs() error {
	f := orgsFile{Orgs: map[string][]string{}}
	for org, keys := range s.enroled {
		for _, k := range keys {
			f.Orgs[org] = append(f.Orgs[org], k.String())
		}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.orgFile), 0o700); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "orgs file: %w", err)
	}
	tmp := s.orgFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "orgs file: %w", err)
	}
	if err := os.Rename(tmp, s.orgFile); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "orgs file: %w", err)
	}
	return nil
}

// enroll creates org with key as its admin credential.
func (s *Server) enroll(ctx context.Context, org string, key passport.PublicKey) error {
	if err := human.ValidateOrg(org); err != nil {
		return err
	}
	s.mu.Lock()
	if _, ok := s.admins[org]; ok {
		s.mu.Unlock()
		return errs.Errorf(errs.ErrConflict, "org %q already exists", org)
	}
	s.admins[org] = []passport.PublicKey{key}
	s.enroled[org] = []passport.PublicKey{key}
	if err := s.saveOrgs(); err != nil {
		delete(s.admins, org)
		delete(s.enroled, org)
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	if s.node != nil {
		return nil
	}
	_, err := s.client(ctx, org)
	return err
}

// isAdmin reports whether key is an admin credential of org.
func (s *Server) isAdmin(org string, key passport.PublicKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.admins[org], key.Equal)
}

func (s *Server) known(org string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.admins[org]
	return ok
}

// client returns the org's client, opening it on first use. An org that
// is not enrolled is errs.ErrNotFound.
func (s *Server) client(ctx context.Context, org string) (*human.Client, error) {
	s.mu.Lock()
	if _, ok := s.admins[org]; !ok {
		s.mu.Unlock()
		return nil, errs.Errorf(errs.ErrNotFound, "org %q is not enrolled on this server", org)
	}
	if s.node != nil {
		s.mu.Unlock()
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "this server has only the ledger role")
	}
	oc := s.clients[org]
	if oc == nil {
		oc = &orgClient{}
		s.clients[org] = oc
	}
	s.mu.Unlock()
	oc.once.Do(func() {
		cfg := s.cfg.Library
		cfg.Org, cfg.BaseURL, cfg.OrgSigner, cfg.OrgKeyFile = org, "", nil, ""
		oc.c, oc.err = human.Open(ctx, cfg)
		if oc.err == nil {
			oc.open.Store(oc.c)
		}
	})
	if oc.err != nil {
		// Let a later request retry a transient failure.
		s.mu.Lock()
		if s.clients[org] == oc {
			delete(s.clients, org)
		}
		s.mu.Unlock()
	}
	return oc.c, oc.err
}

// Ready reports whether every open org's stores answer: each org's ledger
// must produce its checkpoint.
func (s *Server) Ready(ctx context.Context) map[string]error {
	if s.node != nil {
		return s.readyLedger(ctx)
	}
	out := map[string]error{}
	for org, c := range s.openClients() {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _, err := c.Ledger().Checkpoint(cctx)
		cancel()
		out[org] = err
	}
	return out
}

// openClients returns the org clients open now, by org, without waiting
// for one being opened.
func (s *Server) openClients() map[string]*human.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	open := map[string]*human.Client{}
	for org, oc := range s.clients {
		if c := oc.open.Load(); c != nil {
			open[org] = c
		}
	}
	return open
}

// Drain makes long polls return at once (as still pending), for a
// graceful shutdown. Call it before http.Server.Shutdown.
func (s *Server) Drain() { s.drainOne.Do(func() { close(s.draining) }) }

// Close drains, then closes every org's client, flushing queued ledger
// attestations. Call it after the HTTP server has stopped.
func (s *Server) Close() error {
	s.Drain()
	s.mu.Lock()
	clients := s.clients
	s.clients = map[string]*orgClient{}
	s.mu.Unlock()
	var all []error
	if s.node != nil && s.node.close != nil {
		all = append(all, s.node.close())
		s.node.close = nil
	}
	for org, oc := range clients {
		if oc.c != nil {
			if err := oc.c.Close(); err != nil {
				all = append(all, fmt.Errorf("org %s: %w", org, err))
			}
		}
	}
	return errors.Join(all...)
}
