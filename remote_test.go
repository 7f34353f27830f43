package human_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/passport"
)

// The remote profile runs the scenario suite against the reference binary
// (built once from ./examples/server) serving on a real 127.0.0.1 port,
// backed by SQLite. Each profile call is a fresh server process and a
// freshly enrolled org, with the org's admin key as the client credential.
func init() { profiles["remote"] = remoteConfig }

var serverBin struct {
	once sync.Once
	path string
	err  error
}

// humanBinary builds the reference binary once per test process into a
// fixed path under the temp dir (replaced atomically, so concurrent test
// processes never see a partial file and nothing accumulates). It is built
// with the humantestclock tag: the server then has a clock that an org
// admin can move forward (server/testclock.go, POST /v1/testing/clock), so
// scenarios that wait out a delay run on the server profiles as on the
// embedded ones. The production binary has no such route
// (server.TestAttackTestClockAbsent).
func humanBinary(t testing.TB) string {
	t.Helper()
	serverBin.once.Do(func() {
		dir := filepath.Join(os.TempDir(), "human-test-bin")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			serverBin.err = err
			return
		}
		tmp := filepath.Join(dir, fmt.Sprintf("human.%d.tmp", os.Getpid()))
		out, err := exec.Command("go", "build", "-tags", "humantestclock", "-o", tmp, "./examples/server").CombinedOutput()
		if err != nil {
			os.Remove(tmp)
			serverBin.err = fmt.Errorf("go build -tags humantestclock ./examples/server: %v\n%s", err, out)
			return
		}
		serverBin.path = filepath.Join(dir, "human-testclock")
		serverBin.err = os.Rename(tmp, serverBin.path)
	})
	if serverBin.err != nil {
		t.Fatal(serverBin.err)
	}
	return serverBin.path
}

// startServer runs `human serve` on a free loopback port and returns its
// base URL; the process gets SIGTERM at cleanup and must exit cleanly.
func startServer(t testing.TB, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	argv := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir,
		"--store", "sqlite://" + filepath.ToSlash(filepath.Join(dir, "human.db")),
		"--open-enrollment", "--expiry-interval", "50ms", "--log-level", "warn"}, args...)
	cmd := exec.Command(humanBinary(t), argv...)
	cmd.Env = append(os.Environ(), "HUMAN_BASE_URL=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	var base string
	select {
	case l := <-lines:
		_, base, _ = strings.Cut(l, "listening on ")
	case <-time.After(30 * time.Second):
	}
	if base == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("human serve did not start: %s", stderr.String())
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("human serve exited with %v after SIGTERM: %s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("human serve did not stop within 30s of SIGTERM")
		}
	})
	return base
}

func remoteConfig(t testing.TB) human.Config {
	base := startServer(t)
	key, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	rand.Read(b[:])
	org := "org-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := remote.Enroll(ctx, base, org, key); err != nil {
		t.Fatal(err)
	}
	return human.Config{BaseURL: base, Org: org, OrgSigner: key}
}

// advanceClock moves a profile's clock forward by d: the test's fake clock
// (cfg.Now) and, for a server profile, the server's own clock first, with
// a request signed while both still agree.
func advanceClock(t testing.TB, cfg human.Config, clk *clock, d time.Duration) {
	t.Helper()
	if cfg.BaseURL != "" {
		rc, err := remote.New(remote.Options{BaseURL: cfg.BaseURL, KeyID: remote.AdminKeyID(cfg.Org, cfg.OrgSigner.PublicKey()),
			Signer: cfg.OrgSigner, Now: clk.now, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		in := map[string]string{"advance": d.String()}
		if err := rc.Do(ctx, "POST", "/v1/testing/clock", nil, in, nil, false, 0); err != nil {
			t.Fatalf("moving the server's clock: %v", err)
		}
	}
	clk.advance(d)
}
