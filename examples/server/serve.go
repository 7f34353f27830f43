package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/humanos/human/passport"
	"github.com/humanos/human/server"
)

func init() {
	register(&command{name: "serve", summary: "run the REST server (default 127.0.0.1:8080)", run: runServe})
}

// serveRedacted are log attribute keys whose values never reach the log.
var serveRedacted = map[string]bool{"signature": true, "signature-input": true, "authorization": true,
	"token": true, "secret": true, "password": true, "key": true, "private_key": true}

// runServe runs `human serve`. Configuration precedence, highest first:
// command-line flags, environment variables (HUMAN_ + the flag name in
// upper case with '-' as '_'), the --config JSON file, built-in defaults.
// serveGCPercent is the garbage collector target of `human serve` when
// GOGC is not set: a server trades memory for CPU, and collecting at 200%
// heap growth instead of Go's 100% gave ~10% more calls/s under bench/load.
const serveGCPercent = 200

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := configFlags(fs)
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	addr := fs.String("addr", env("HUMAN_ADDR", "127.0.0.1:8080"), "listen address HOST:PORT (env HUMAN_ADDR)")
	configFile := fs.String("config", env("HUMAN_CONFIG", ""), "JSON file of flag values, e.g. {\"addr\": \":8080\"} (env HUMAN_CONFIG); flags and environment override it")
	openEnroll := fs.Bool("open-enrollment", env("HUMAN_OPEN_ENROLLMENT", "") == "true", "let anyone create an org with POST /v1/orgs (env HUMAN_OPEN_ENROLLMENT=true)")
	admins := fs.String("org-admins", env("HUMAN_ORG_ADMINS", ""), "org admin keys, ORG=suite:base64url[,ORG=...] (env HUMAN_ORG_ADMINS)")
	rate := fs.Float64("rate", 0, "requests per second per principal, 0 = unlimited (env HUMAN_RATE)")
	burst := fs.Int("burst", 0, "burst per principal (env HUMAN_BURST; default 2×rate)")
	conc := fs.Int("concurrency", 64, "requests in flight per principal, -1 = unlimited (env HUMAN_CONCURRENCY)")
	expiry := fs.Duration("expiry-interval", time.Second, "how often overdue approvals are resolved (env HUMAN_EXPIRY_INTERVAL)")
	shutdown := fs.Duration("shutdown-timeout", 20*time.Second, "bound on graceful shutdown: in-flight requests, then the ledger flush (env HUMAN_SHUTDOWN_TIMEOUT)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error (env HUMAN_LOG_LEVEL)")
	appOrigins := fs.String("app-origin", env("HUMAN_APP_ORIGIN", ""), "origins the /app/ inbox is served from, comma-separated (e.g. https://approve.example.com); empty = development mode on http://localhost (env HUMAN_APP_ORIGIN)")
	appRPID := fs.String("app-rpid", env("HUMAN_APP_RPID", ""), "WebAuthn relying party ID of the /app/ inbox (the domain; default localhost) (env HUMAN_APP_RPID)")
	appOpen := fs.Bool("app-open-registration", env("HUMAN_APP_OPEN_REGISTRATION", "") == "true", "let anyone create a human passport from the /app/ page (env HUMAN_APP_OPEN_REGISTRATION=true)")
	sessionSecret := fs.String("session-secret", "", "secret (at least 32 bytes) keying POST /v1/sessions; share it between servers behind one address; empty = random per process, sessions end on restart (env HUMAN_SESSION_SECRET; prefer it or --config to the command line)")
	prevSecrets := fs.String("previous-session-secrets", "", "secrets --session-secret replaced, comma-separated, each at least 32 bytes with no comma or surrounding space: sessions issued under them stay valid until they expire, new ones are issued under --session-secret only; drop them one --session-ttl after the rotation (env HUMAN_PREVIOUS_SESSION_SECRETS; prefer it or --config to the command line)")
	sessionTTL := fs.Duration("session-ttl", server.DefaultSessionTTL, "lifetime of a session, at most 1h (env HUMAN_SESSION_TTL)")
	role := fs.String("role", server.RoleAll, "all, or ledger: a ledger node serving only the ledger-store protocol to the --org-admins keys, for a control plane's --ledger human+https://... (env HUMAN_ROLE)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "serve: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if err := serveApplyLayers(fs, *configFile); err != nil {
		fmt.Fprintln(stderr, "serve:", err)
		return exitUsage
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(stderr, "serve: --log-level:", err)
		return exitUsage
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if serveRedacted[strings.ToLower(a.Key)] {
			return slog.String(a.Key, "[redacted]")
		}
		return a
	}}))
	adminKeys, err := serveParseAdmins(*admins)
	if err != nil {
		fmt.Fprintln(stderr, "serve: --org-admins:", err)
		return exitUsage
	}
	previous, err := serveParseSecrets(*prevSecrets)
	if err != nil {
		fmt.Fprintln(stderr, "serve: --previous-session-secrets:", err)
		return exitUsage
	}
	if cfg.BaseURL != "" {
		fmt.Fprintln(stderr, "serve: --base-url names a remote server; a server runs on its own stores")
		return exitUsage
	}
	lib := *cfg
	lib.ExpiryInterval = *expiry
	tp, stopTracing, err := serveTracing(ctx) // otel.go: OTLP only when configured
	if err != nil {
		logger.Error("tracing: OTLP exporter", "err", err)
		return exitCheck
	}
	srv, err := server.New(ctx, server.Config{Library: lib, Admins: adminKeys, OpenEnrollment: *openEnroll,
		Rate: *rate, Burst: *burst, Concurrency: *conc, Logger: logger, Role: *role, TracerProvider: tp,
		SessionSecret: []byte(*sessionSecret), PreviousSessionSecrets: previous, SessionTTL: *sessionTTL,
		App: server.AppConfig{RPID: *appRPID, Origins: splitList(*appOrigins), OpenRegistration: *appOpen}})
	if err != nil {
		logger.Error("start-up failed", "err", err)
		return exitCheck
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		srv.Close()
		logger.Error("listen failed", "addr", *addr, "err", err)
		return exitCheck
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 90 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "human serve: listening on http://%s\n", ln.Addr())
	logger.Info("listening", "addr", ln.Addr().String(), "store", redactURL(lib.Store), "open_enrollment", *openEnroll, "role", *role)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		srv.Close()
		logger.Error("server stopped", "err", err)
		return exitCheck
	case <-ctx.Done():
	}
	// Graceful shutdown: answer long polls, finish in-flight requests, then
	// flush each org's ledger batch, all within --shutdown-timeout.
	logger.Info("shutting down", "timeout", shutdown.String())
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	srv.Drain()
	code := exitOK
	defer func() { _ = stopTracing(sctx) }() // flush pending spans last
	if err := hs.Shutdown(sctx); err != nil {
		logger.Error("in-flight requests did not finish in time", "err", err)
		code = exitCheck
	}
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			logger.Error("closing stores", "err", err)
			code = exitCheck
		}
	case <-sctx.Done():
		logger.Error("ledger flush did not finish in time")
		code = exitCheck
	}
	logger.Info("stopped")
	return code
}

// serveApplyLayers applies the environment and then the config file to
// every flag not set on the command line.
func serveApplyLayers(fs *flag.FlagSet, file string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var fromFile map[string]any
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if err := json.Unmarshal(data, &fromFile); err != nil {
			return fmt.Errorf("--config %s: %w", file, err)
		}
		for k, v := range fromFile {
			if fs.Lookup(k) == nil || k == "config" {
				return fmt.Errorf("--config %s: unknown setting %q", file, k)
			}
			switch v.(type) {
			case []any, map[string]any, nil:
				// fmt.Sprint would turn ["a","b"] into the one value "[a b]".
				return fmt.Errorf("--config %s: %s: want a string, number or boolean (a list is one comma-separated string)", file, k)
			}
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		envName := "HUMAN_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(envName); ok && v != "" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName, v, e)
			}
			return
		}
		if v, ok := fromFile[f.Name]; ok {
			if e := f.Value.Set(fmt.Sprint(v)); e != nil {
				err = fmt.Errorf("--config %s: %s: %w", file, f.Name, e)
			}
		}
	})
	return err
}

func serveParseAdmins(s string) (map[string][]passport.PublicKey, error) {
	out := map[string][]passport.PublicKey{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		org, key, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want ORG=suite:base64url", item)
		}
		k, err := passport.ParsePublicKey(key)
		if err != nil {
			return nil, err
		}
		out[org] = append(out[org], k)
	}
	return out, nil
}

// serveParseSecrets splits the comma-separated --previous-session-secrets.
// It checks only the syntax, so that a typo ("a, b") fails rather than
// yield a secret nobody issued under; server.New checks each secret. Its
// errors name a secret by position, never by its bytes.
func serveParseSecrets(v string) ([][]byte, error) {
	if v == "" {
		return nil, nil
	}
	var out [][]byte
	for i, item := range strings.Split(v, ",") {
		switch {
		case item == "":
			return nil, fmt.Errorf("secret %d is empty: separate secrets with single commas", i+1)
		case strings.TrimSpace(item) != item:
			return nil, fmt.Errorf("secret %d starts or ends with a space: separate secrets with commas only", i+1)
		}
		out = append(out, []byte(item))
	}
	return out, nil
}

// redactURL drops any password from a store URL before it is logged.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if at := strings.LastIndex(s, "@"); at > i {
			return s[:i+3] + "[redacted]" + s[at:]
		}
	}
	return s
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
