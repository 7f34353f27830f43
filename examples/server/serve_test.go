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

// TestServeParseSecrets: --previous-session-secrets is comma-separated;
// an empty item or one with surrounding spaces is a usage error that
// names the item by position, never by its bytes.
func TestServeParseSecrets(t *testing.T) {
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 32)
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{a, []string{a}, true},
		{a + "," + b, []string{a, b}, true},
		{a + ", " + b, nil, false},
		{" " + a, nil, false},
		{a + ",", nil, false},
		{"," + a, nil, false},
		{a + ",," + b, nil, false},
	} {
		got, err := serveParseSecrets(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), a) || strings.Contains(err.Error(), b) {
				t.Errorf("%q: the error %q shows a secret", tc.in, err)
			}
			continue
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%q: %d secrets, want %d", tc.in, len(got), len(tc.want))
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("%q: secret %d differs", tc.in, i+1)
			}
		}
	}
}

// FuzzServeParseSecrets: an accepted value splits into non-empty secrets
// without commas or surrounding spaces that join back to the value.
func FuzzServeParseSecrets(f *testing.F) {
	for _, seed := range []string{"", "a", "a,b", "a, b", ",", "a,,b", " a", "a\t", "[a b]"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := serveParseSecrets(v)
		if err != nil {
			return
		}
		parts := make([]string, len(got))
		for i, s := range got {
			parts[i] = string(s)
			if len(s) == 0 || strings.Contains(parts[i], ",") || strings.TrimSpace(parts[i]) != parts[i] {
				t.Fatalf("%q: secret %d is %q", v, i+1, s)
			}
		}
		if strings.Join(parts, ",") != v {
			t.Fatalf("%q: split into %q", v, parts)
		}
	})
}

// TestServeSessionSecrets: the previous session secrets come from the
// flag, the environment or the config file; bad ones stop start-up with a
// clear message that never shows a secret, and good ones start the server.
func TestServeSessionSecrets(t *testing.T) {
	cur, prev := strings.Repeat("c", 32), strings.Repeat("p", 32)
	dir := t.TempDir()
	t.Setenv("HUMAN_DATA_DIR", dir)
	t.Setenv("HUMAN_STORE", "mem://")
	config := func(body string) string {
		file := filepath.Join(t.TempDir(), "human.json")
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	for _, tc := range []struct {
		name string
		args []string
		env  string // HUMAN_PREVIOUS_SESSION_SECRETS
		code int
		says string
	}{
		{"flag", []string{"--previous-session-secrets", prev}, "", exitOK, ""},
		{"env", nil, prev + "," + strings.Repeat("q", 32), exitOK, ""},
		{"config file", []string{"--config", config(`{"previous-session-secrets": "` + prev + `"}`)}, "", exitOK, ""},
		{"config file list", []string{"--config", config(`{"previous-session-secrets": ["` + prev + `"]}`)}, "", exitUsage, "comma-separated"},
		{"empty item", []string{"--previous-session-secrets", prev + ","}, "", exitUsage, "secret 2 is empty"},
		{"space", nil, prev + ", " + strings.Repeat("q", 32), exitUsage, "secret 2 starts or ends with a space"},
		{"short", []string{"--previous-session-secrets", "short-" + prev[:20]}, "", exitCheck, "previous session secret 1 has 26 bytes"},
		{"equal to current", []string{"--previous-session-secrets", cur}, "", exitCheck, "equals the session secret"},
		{"duplicated", []string{"--previous-session-secrets", prev + "," + prev}, "", exitCheck, "are equal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HUMAN_PREVIOUS_SESSION_SECRETS", tc.env)
			// Cancelled: a server that starts stops at once, gracefully.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out, errOut bytes.Buffer
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--session-secret", cur}, tc.args...)
			if got := run(ctx, args, &out, &errOut); got != tc.code {
				t.Fatalf("exit %d, want %d (%s)", got, tc.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.says) {
				t.Errorf("stderr %q, want it to say %q", errOut.String(), tc.says)
			}
			if tc.code == exitOK && !strings.Contains(out.String(), "listening on") {
				t.Errorf("the server did not start: %s", out.String())
			}
			for _, secret := range []string{cur, prev, prev[:20]} {
				if strings.Contains(out.String()+errOut.String(), secret) {
					t.Errorf("the output shows a secret: %s%s", out.String(), errOut.String())
				}
			}
		})
	}
	t.Run("without --session-secret", func(t *testing.T) {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if got := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--previous-session-secrets", prev}, &out, &errOut); got != exitCheck {
			t.Fatalf("exit %d, want %d (%s)", got, exitCheck, errOut.String())
		}
		if !strings.Contains(errOut.String(), "without a session secret") {
			t.Errorf("stderr %q", errOut.String())
		}
	})
}
