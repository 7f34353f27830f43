package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"serve", "--help"}, exitOK},
		{[]string{"serve", "--no-such-flag"}, exitUsage},
		{[]string{"serve", "extra"}, exitUsage},
		{[]string{"serve", "--log-level", "loud"}, exitUsage},
		{[]string{"serve", "--org-admins", "acme"}, exitUsage},
		{[]string{"serve", "--base-url", "http://x"}, exitUsage},
	} {
		var out, errOut bytes.Buffer
		if got := run(context.Background(), tc.args, &out, &errOut); got != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, got, tc.code, errOut.String())
		}
	}
}

// TestServeConfigPrecedence: flag over environment over config file over default.
func TestServeConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "human.json")
	if err := os.WriteFile(file, []byte(`{"addr": "127.0.0.1:1", "rate": 7, "concurrency": 9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUMAN_RATE", "5")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "")
	rate := fs.Float64("rate", 0, "")
	conc := fs.Int("concurrency", 64, "")
	if err := fs.Parse([]string{"--concurrency", "3"}); err != nil {
		t.Fatal(err)
	}
	if err := serveApplyLayers(fs, file); err != nil {
		t.Fatal(err)
	}
	if *addr != "127.0.0.1:1" || *rate != 5 || *conc != 3 {
		t.Fatalf("addr %s rate %v concurrency %d; want file, env, flag", *addr, *rate, *conc)
	}
	os.WriteFile(file, []byte(`{"no-such": 1}`), 0o600)
	if err := serveApplyLayers(flag.NewFlagSet("t", flag.ContinueOnError), file); err == nil || !strings.Contains(file, "human.json") {
		t.Fatal("unknown setting in the config file accepted")
	}
}

func TestRedactURL(t *testing.T) {
	if got := redactURL("postgres://u:secret@db/h"); strings.Contains(got, "secret") {
		t.Fatal(got)
	}
}
