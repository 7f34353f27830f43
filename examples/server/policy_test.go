package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("policy: p\nrules:\n  - id: r1\n    actions: [a]\n    condition: request.attributes.x +\n    effect: allow\n  - id: r2\n    actions: [a]\n    effect: permit\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"valid", []string{"policy", "check", "testdata/policy/payments.yaml"}, exitOK, "testdata/policy/payments.yaml: ok\n", nil},
		{"invalid: file:line:col and rule", []string{"policy", "check", "testdata/policy/payments.yaml", bad}, exitCheck,
			"testdata/policy/payments.yaml: ok\n", []string{bad + ":9:13: rule r2: unknown effect \"permit\""}},
		{"syntax error in a condition", []string{"policy", "check", bad + "x"}, exitCheck, "", []string{"no such file"}},
		{"no files", []string{"policy", "check"}, exitUsage, "", []string{"usage:"}},
		{"help", []string{"policy", "--help"}, exitOK, "", []string{"human policy test DIR"}},
		{"unknown subcommand", []string{"policy", "lint"}, exitUsage, "", []string{"unknown subcommand"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := policyRun(t, c.args...)
			if code != c.code || stdout != c.stdout {
				t.Fatalf("exit %d stdout %q stderr %q; want exit %d stdout %q", code, stdout, stderr, c.code, c.stdout)
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Fatalf("stderr %q does not contain %q", stderr, s)
				}
			}
		})
	}
	// A condition's syntax error points into the condition.
	badCond := filepath.Join(dir, "cond.yaml")
	if err := os.WriteFile(badCond, []byte("policy: p\nrules:\n  - id: r1\n    actions: [a]\n    condition: request.attributes.x +\n    effect: allow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, stderr := policyRun(t, "policy", "check", badCond); !strings.Contains(stderr, badCond+":5:") || !strings.Contains(stderr, "rule r1: condition:") {
		t.Fatalf("stderr %q", stderr)
	}
}

func TestPolicyEval(t *testing.T) {
	code, stdout, stderr := policyRun(t, "policy", "eval", "--policy", "testdata/policy/payments.yaml",
		"--request", "testdata/policy/request.yaml")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var d struct {
		Effect   string
		Rule     string
		Reason   string
		Matched  []struct{ Rule, Effect, Reason string }
		Approval struct {
			Capability string
			Timeout    string
			Escalation []struct{ Capability, Timeout string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if d.Effect != "require_approval" || d.Rule != "large-payments" || len(d.Matched) != 1 || d.Approval.Capability != "finance.approver" ||
		d.Approval.Timeout != "15m" || len(d.Approval.Escalation) != 1 || !strings.Contains(d.Reason, "then escalates to holders of finance.director") {
		t.Fatalf("decision %+v", d)
	}
	// holds() answers from --holds.
	code, stdout, _ = policyRun(t, "policy", "eval", "--policy", "testdata/policy/payments.yaml",
		"--request", "testdata/policy/request.yaml", "--holds", "did:human:alice=finance.frozen")
	if code != exitOK || !strings.Contains(stdout, `"rule": "frozen"`) {
		t.Fatalf("with --holds: exit %d %s", code, stdout)
	}
	if code, _, _ := policyRun(t, "policy", "eval", "--policy", "testdata/policy/payments.yaml"); code != exitUsage {
		t.Fatalf("missing --request: exit %d", code)
	}
}

func TestPolicyTest(t *testing.T) {
	code, stdout, stderr := policyRun(t, "policy", "test", "testdata/policy")
	if code != exitOK || !strings.HasSuffix(stdout, "4 passed, 0 failed\n") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	// A failing fixture exits 1 and says what differed.
	dir := t.TempDir()
	src, _ := os.ReadFile("testdata/policy/payments.yaml")
	os.WriteFile(filepath.Join(dir, "payments.yaml"), src, 0o600)
	os.WriteFile(filepath.Join(dir, "wrong_test.yaml"), []byte(`policies: [payments.yaml]
cases:
  - name: wrong expectations
    request: {action: payments.send, resource: invoice:1, agent: a, requester: h, attributes: {amount: 1200.0}}
    want: {effect: allow, rule: small-payments, approval: {quorum: 2}}
`), 0o600)
	code, stdout, _ = policyRun(t, "policy", "test", dir)
	for _, want := range []string{"FAIL", "effect is require_approval, want allow", `deciding rule is "large-payments", want "small-payments"`,
		"approval quorum 1, want 2", "0 passed, 1 failed"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("output lacks %q:\n%s", want, stdout)
		}
	}
	if code != exitCheck {
		t.Fatalf("exit %d, want %d", code, exitCheck)
	}
	if code, _, _ := policyRun(t, "policy", "test", t.TempDir()); code != exitCheck {
		t.Fatalf("empty dir: exit %d", code)
	}
}

// policyRun runs the binary's command line in-process.
func policyRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}
