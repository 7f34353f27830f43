package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/humanos/human/policy"
)

func init() {
	register(&command{
		name:    "policy",
		summary: "check policy files, explain one decision, run policy fixtures",
		run:     runPolicy,
	})
}

const policyUsage = `usage:
  human policy check FILE...
  human policy eval --policy FILE [--policy FILE]... --request FILE [--holds SUBJECT=CAP,...]...
  human policy test DIR

check parses and type-checks each policy file; every problem is printed as
FILE:LINE:COL: rule ID: what is wrong. Exit 1 if any file is invalid.

eval evaluates one request (YAML or JSON: org, action, resource,
attributes, agent, requester, scope, now) against the policy set made of
the files given, and prints the decision with every matched rule and its
reason as JSON. holds() answers come from --holds.

test runs every *_test.yaml fixture in DIR (format: docs/policy.md); each
names its policy files and cases with the decision, deciding rule, matched
rules and approval requirement they must get. Exit 1 on any failure.
`

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return runPolicyCheck(args[1:], stdout, stderr)
	case "eval":
		return runPolicyEval(ctx, args[1:], stdout, stderr)
	case "test":
		return runPolicyTest(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stderr, policyUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "human policy: unknown subcommand %q\n\n%s", args[0], policyUsage)
	return exitUsage
}

// loadPolicySet parses and compiles each file (reporting every file's
// problems) and returns the compiled set.
func loadPolicySet(e *policy.Engine, files []string) (*policy.Policy, []string) {
	var docs []*policy.Document
	var probs []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			probs = append(probs, err.Error())
			continue
		}
		doc, err := policy.Parse(f, data)
		if err == nil {
			_, err = e.Compile(doc) // per file, so positions name the right file
		}
		if err != nil {
			probs = append(probs, policyProblems(err)...)
			continue
		}
		docs = append(docs, doc)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	doc, err := policy.Combine(strings.Join(files, "+"), docs...)
	if err != nil {
		return nil, []string{err.Error()}
	}
	p, err := e.Compile(doc)
	if err != nil {
		return nil, policyProblems(err)
	}
	return p, nil
}

// policyProblems splits an invalid-policy error into one line per problem.
func policyProblems(err error) []string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "invalid policy: "); ok {
		return strings.Split(rest, "; ")
	}
	return []string{msg}
}

func runPolicyCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy check", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, policyUsage, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, "human policy check: name at least one FILE\n\n"+policyUsage)
		return exitUsage
	}
	e, err := policy.NewEngine(nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCheck
	}
	code := exitOK
	for _, f := range fs.Args() {
		if _, probs := loadPolicySet(e, []string{f}); len(probs) > 0 {
			for _, p := range probs {
				fmt.Fprintln(stderr, p)
			}
			code = exitCheck
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", f)
	}
	return code
}

// holdsFlag collects --holds SUBJECT=CAP[,CAP...] into a table.
type holdsFlag policy.StaticCapabilities

func (h holdsFlag) String() string { return "" }

func (h holdsFlag) Set(v string) error {
	subject, caps, ok := strings.Cut(v, "=")
	if !ok || subject == "" || caps == "" {
		return fmt.Errorf("want SUBJECT=CAPABILITY[,CAPABILITY...], got %q", v)
	}
	h[subject] = append(h[subject], strings.Split(caps, ",")...)
	return nil
}

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func runPolicyEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy eval", flag.ContinueOnError)
	var files stringsFlag
	holds := holdsFlag{}
	fs.Var(&files, "policy", "a policy file of the set (repeatable, required)")
	reqFile := fs.String("request", "", "the request file, YAML or JSON (required)")
	fs.Var(holds, "holds", "SUBJECT=CAP,... that holds() answers true for (repeatable)")
	if code, ok := parseFlags(fs, args, policyUsage, stderr); !ok {
		return code
	}
	if len(files) == 0 || *reqFile == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, "human policy eval: --policy and --request are required\n\n"+policyUsage)
		return exitUsage
	}
	e, err := policy.NewEngine(policy.StaticCapabilities(holds))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCheck
	}
	p, probs := loadPolicySet(e, files)
	if len(probs) > 0 {
		for _, pr := range probs {
			fmt.Fprintln(stderr, pr)
		}
		return exitCheck
	}
	data, err := os.ReadFile(*reqFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCheck
	}
	req, err := policy.ParseRequest(*reqFile, data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCheck
	}
	d, err := e.Evaluate(ctx, p, req.Input())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCheck
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(decisionJSON(d)); err != nil {
		fmt.Fprintln(stderr, err)
		return exitCheck
	}
	return exitOK
}

// decisionJSON is how tools print a Decision.
func decisionJSON(d policy.Decision) map[string]any {
	out := map[string]any{"effect": d.Effect, "rule": d.Rule, "reason": d.Reason, "matched": d.Matched,
		"policy_digest": d.PolicyDigest}
	if a := d.Approval; a != nil {
		ap := map[string]any{"capability": a.Capability, "quorum": a.Quorum, "timeout": policy.FormatDuration(a.Timeout),
			"on_timeout": a.OnTimeout, "allow_delegator": a.AllowDelegator}
		var esc []map[string]any
		for _, s := range a.Escalation {
			esc = append(esc, map[string]any{"capability": s.Capability, "team": s.Team, "timeout": policy.FormatDuration(s.Timeout)})
		}
		if esc != nil {
			ap["escalation"] = esc
		}
		if a.Exclude != nil {
			ap["exclude"] = a.Exclude
		}
		out["approval"] = ap
	}
	if d.Obligations != nil {
		out["obligations"] = d.Obligations
	}
	return out
}

func runPolicyTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy test", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, policyUsage, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, "human policy test: name one DIR\n\n"+policyUsage)
		return exitUsage
	}
	dir := fs.Arg(0)
	files, err := filepath.Glob(filepath.Join(dir, "*_test.yaml"))
	if err != nil || len(files) == 0 {
		fmt.Fprintf(stderr, "human policy test: no *_test.yaml fixtures in %s\n", dir)
		return exitCheck
	}
	slices.Sort(files)
	passed, failed := 0, 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err == nil {
			err = runFixture(ctx, file, data, stdout, &passed, &failed)
		}
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", file, err)
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitCheck
	}
	return exitOK
}

func runFixture(ctx context.Context, file string, data []byte, stdout io.Writer, passed, failed *int) error {
	fx, err := policy.ParseFixture(file, data)
	if err != nil {
		return err
	}
	e, err := policy.NewEngine(policy.StaticCapabilities(fx.Holds))
	if err != nil {
		return err
	}
	var paths []string
	for _, p := range fx.Policies {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		paths = append(paths, p)
	}
	p, probs := loadPolicySet(e, paths)
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "\n  "))
	}
	results, err := fx.Check(ctx, e, p)
	if err != nil {
		return err
	}
	for _, r := range results {
		if len(r.Failures) == 0 {
			*passed++
			fmt.Fprintf(stdout, "ok   %s: %s\n", file, r.Name)
			continue
		}
		*failed++
		fmt.Fprintf(stdout, "FAIL %s: %s\n", file, r.Name)
		for _, f := range r.Failures {
			fmt.Fprintf(stdout, "     %s\n", f)
		}
		fmt.Fprintf(stdout, "     (decided %s by %q: %s)\n", r.Decision.Effect, r.Decision.Rule, r.Decision.Reason)
	}
	return nil
}
