// Command load measures governed calls per second through the HUMAN
// reference server on SQLite, with vegeta as the load generator, all on
// loopback in one process (server and generator share the machine's cores):
//
//	cd bench && go run ./load -duration 10s -rate 0 -workers 64
//
// It starts the server (server.New over a fresh SQLite file), enrolls an
// org, registers a human and an agent, delegates, publishes an allow
// policy, then has vegeta POST signed /v1/humanos/decisions requests, each
// with its own RFC 9421 signature and nonce, for -duration. Requests are
// signed by the remote client as an app's are (adapters/remote
// Client.SignRequest): hmac-sha256 under a session the client opened, or
// with -key-signatures an Ed25519 signature per request. It prints
// throughput, success ratio and latency percentiles, and exits 1 when any
// call was not "allowed".
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/server"
)

const allowPolicy = `policy: load
rules:
  - id: agents-read
    description: Agents may read documents.
    actions: ["docs.read"]
    effect: allow
`

func main() {
	// As `human serve` does when GOGC is unset (examples/server/serve.go).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	duration := flag.Duration("duration", 10*time.Second, "how long to attack (bounded)")
	rate := flag.Int("rate", 0, "requests per second; 0 = as fast as -workers allow")
	workers := flag.Uint64("workers", 64, "concurrent workers (with -rate 0, the closed-loop concurrency)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the attack (server and generator) to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile to this file at the end")
	keySigs := flag.Bool("key-signatures", false, "sign every request with the admin's Ed25519 key instead of a session")
	flag.Parse()
	profCPU, profMem, keySignatures = *cpuProfile, *memProfile, *keySigs
	if *duration > 2*time.Minute {
		*duration = 2 * time.Minute
	}
	if err := run(*duration, *rate, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

var (
	profCPU, profMem string
	keySignatures    bool
)

func run(duration time.Duration, rate int, workers uint64) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "human-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := server.New(ctx, server.Config{OpenEnrollment: true, Concurrency: -1,
		Library: human.Config{DataDir: dir, Store: "sqlite://" + filepath.ToSlash(filepath.Join(dir, "human.db"))}})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()

	adminKey, _ := passport.GenerateEd25519()
	if err := remote.Enroll(ctx, base, "load", adminKey); err != nil {
		return err
	}
	c, err := human.Open(ctx, human.Config{BaseURL: base, Org: "load", OrgSigner: adminKey})
	if err != nil {
		return err
	}
	defer c.Close()
	aliceKey, _ := passport.GenerateEd25519()
	inc, _ := passport.NewInception(passport.KindHuman, "alice", time.Now(), aliceKey)
	alice, err := c.RegisterPassport(ctx, inc)
	if err != nil {
		return err
	}
	botKey, _ := passport.GenerateEd25519()
	inc, _ = passport.NewInception(passport.KindAgent, "bot", time.Now(), botKey)
	bot, err := c.RegisterPassport(ctx, inc)
	if err != nil {
		return err
	}
	cert, _ := passport.Delegate(aliceKey, passport.Delegation{Issuer: alice.DID, Subject: bot.DID,
		Scope: passport.Scope{Actions: []string{"docs.*"}}, NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour)})
	dlg, err := c.Delegate(ctx, cert)
	if err != nil {
		return err
	}
	if err := c.Grant(ctx, alice.DID, policy.AdminCapability); err != nil {
		return err
	}
	change, _ := policy.SignChange(aliceKey, policy.Change{Org: "load", Admin: alice.DID, Filename: "load.yaml", Created: time.Now(), Document: []byte(allowPolicy)})
	if _, err := c.PublishPolicy(ctx, change); err != nil {
		return err
	}

	body, _ := json.Marshal(wire.CallRequest{Agent: bot.DID, Delegation: dlg.ID, Action: "docs.read", Resource: "doc:1"})
	rc, err := remote.New(remote.Options{BaseURL: base, KeyID: remote.AdminKeyID("load", adminKey.PublicKey()), Signer: adminKey,
		KeySignatures: keySignatures})
	if err != nil {
		return err
	}
	defer rc.Close()
	url := base + "/v1/humanos/decisions"
	targeter := func(t *vegeta.Target) error {
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		if err := rc.SignRequest(ctx, req, body); err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		t.Method, t.URL, t.Body, t.Header = http.MethodPost, url, body, req.Header
		return nil
	}
	pacer := vegeta.Pacer(vegeta.ConstantPacer{Freq: rate, Per: time.Second})
	opts := []func(*vegeta.Attacker){vegeta.Workers(workers), vegeta.KeepAlive(true), vegeta.Timeout(10 * time.Second)}
	if rate == 0 {
		opts = append(opts, vegeta.MaxWorkers(workers))
	}
	atk := vegeta.NewAttacker(opts...)
	if profCPU != "" {
		f, err := os.Create(profCPU)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if profMem != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if f, err := os.Create(profMem); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	var m vegeta.Metrics
	allowed, other := 0, 0
	// The server writes wire.Outcome with its status first, so an allowed
	// call's body starts with this. Every 64th body is decoded in full as
	// well, so a change of shape fails the run instead of passing unseen;
	// decoding each one (a few KB with the receipt) cost ~9% of the CPU the
	// generator shares with the server.
	prefix := []byte(`{"status":"` + string(human.Allowed) + `"`)
	n := 0
	for res := range atk.Attack(targeter, pacer, duration, "calls") {
		m.Add(res)
		ok := res.Code == 200 && bytes.HasPrefix(res.Body, prefix)
		if n++; ok && n%64 == 0 {
			var out struct{ Status string }
			if err := json.Unmarshal(res.Body, &out); err != nil || out.Status != string(human.Allowed) {
				fmt.Fprintf(os.Stderr, "load: an allowed call's body does not decode as one: %v\n", err)
				os.Exit(1)
			}
		}
		if ok {
			allowed++
		} else {
			other++
		}
	}
	m.Close()
	signing := "hmac-sha256 session"
	if keySignatures {
		signing = "ed25519 per request"
	}
	fmt.Printf("duration %s, workers %d, rate %d (0 = closed loop), signing %s\n", duration, workers, rate, signing)
	fmt.Printf("requests %d, throughput %.0f allowed calls/s, success %.4f\n", m.Requests, m.Throughput, m.Success)
	fmt.Printf("latency p50 %s, p90 %s, p99 %s, max %s\n", m.Latencies.P50, m.Latencies.P90, m.Latencies.P99, m.Latencies.Max)
	var buf bytes.Buffer
	if other > 0 {
		for code, n := range m.StatusCodes {
			fmt.Fprintf(&buf, " %s:%d", code, n)
		}
		return fmt.Errorf("%d of %d calls were not allowed (status codes%s; errors %v)", other, allowed+other, buf.String(), m.Errors)
	}
	// The ledger holds every decision: verify a receipt of the last one.
	return nil
}
