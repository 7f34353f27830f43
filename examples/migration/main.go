// Command migration is the zero-regret migration drill, runnable: an org
// runs a scenario on a source deployment, is exported and imported into a
// destination, the app runs with the destination as its shadow (zero
// divergence required), is cut over by configuration only, runs the same
// scenario again, and every receipt issued before the move must verify
// after it, with equal record counts per kind. It exits 1 on any
// divergence, loss or failed check.
//
//	go run ./examples/migration                      # sqlite -> sqlite in a temp dir
//	go run ./examples/migration -to 'postgres://...' # sqlite -> PostgreSQL
//
// The full drill from a hosted server (a real `human serve`) is the test
// TestMigrationDrill in the root package; see docs/migration.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/humanos/human"
	_ "github.com/humanos/human/adapters/neo4j"    // -to-graph neo4j://
	_ "github.com/humanos/human/adapters/postgres" // -to postgres://
	_ "github.com/humanos/human/adapters/s3"       // -to-policies s3://
	"github.com/humanos/human/bundle"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
)

const drillPolicy = `policy: payments
rules:
  - id: small-payments
    description: Agents may pay small invoices on their own.
    actions: ["payments.send"]
    resources: ["invoice:*"]
    condition: double(request.attributes.amount) <= 100.0
    effect: allow
  - id: large-payments
    description: Payments over 100 need a finance approver.
    actions: ["payments.send"]
    resources: ["invoice:*"]
    condition: double(request.attributes.amount) > 100.0
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 1
      timeout: 1h
  - id: no-deletes
    description: Agents never delete ledgers.
    actions: ["ledger.delete"]
    effect: deny
`

type step struct {
	action, resource string
	amount           float64
	want             human.Status
}

var scenario = []step{
	{"payments.send", "invoice:1", 40, human.Allowed},
	{"payments.send", "invoice:2", 900, human.Pending},
	{"ledger.delete", "ledger:1", 0, human.Denied},
}

func main() {
	fs := flag.NewFlagSet("migration", flag.ExitOnError)
	to := fs.String("to", "", "destination store URL (default: SQLite in a temp dir)")
	graph := fs.String("to-graph", "", "destination graph store URL (e.g. neo4j://...)")
	policies := fs.String("to-policies", "", "destination policy store URL (e.g. s3://...)")
	fs.Parse(os.Args[1:])
	os.Exit(run(context.Background(), os.Stdout, *to, *graph, *policies))
}

// run is the drill; it returns the exit code.
func run(ctx context.Context, out io.Writer, to, graph, policies string) int {
	tmp, err := os.MkdirTemp("", "human-migration-")
	if err != nil {
		fmt.Fprintln(out, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := drill(ctx, out, tmp, to, graph, policies); err != nil {
		fmt.Fprintln(out, "FAIL:", err)
		return 1
	}
	fmt.Fprintln(out, "OK: zero divergences, zero lost records, every receipt verifies")
	return 0
}

type org struct {
	alice, bob *passport.Passport
	aliceKey   *passport.Ed25519Signer
	agent      *passport.Passport
	dlg        *passport.Delegation
}

func drill(ctx context.Context, out io.Writer, tmp, to, graph, policies string) error {
	src := human.Config{DataDir: filepath.Join(tmp, "source")}
	dst := human.Config{DataDir: filepath.Join(tmp, "destination"), Store: to, Graph: graph, Policies: policies,
		OrgKeyFile: filepath.Join(src.DataDir, "keys", human.DefaultOrg+".pem")} // the org key moves
	c, err := human.Open(ctx, src)
	if err != nil {
		return err
	}
	defer c.Close()
	o, err := enroll(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "1. source: the scenario")
	before, err := play(ctx, out, c, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "2. export, then import into the destination")
	bdir := filepath.Join(tmp, "bundle")
	m, err := c.Export(ctx, bdir, nil)
	if err != nil {
		return err
	}
	d, err := human.Open(ctx, dst)
	if err != nil {
		return err
	}
	rep, err := d.Import(ctx, bdir, nil)
	d.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %d ledger entries, %d passports, %d tasks moved\n", rep.Manifest.Size, m.Counts["passports"], m.Counts["tasks"])

	fmt.Fprintln(out, "3. shadow traffic: source enforces, destination evaluates")
	shadowCfg := src
	shadowCfg.Shadow = &human.ShadowConfig{Config: dst}
	sc, err := human.Open(ctx, shadowCfg)
	if err != nil {
		return err
	}
	for _, s := range scenario {
		r, err := call(ctx, sc, o, s, "shadow")
		if err == nil {
			err = settle(ctx, sc, r)
		}
		if err != nil {
			sc.Close()
			return err
		}
	}
	if err := sc.ShadowFlush(ctx); err != nil {
		sc.Close()
		return err
	}
	sr := sc.ShadowReport()
	sc.Close()
	fmt.Fprintf(out, "   %s\n", sr)
	if !sr.Zero() {
		return fmt.Errorf("shadow traffic diverged: %+v", sr.Recent)
	}

	fmt.Fprintln(out, "4. final sync (writers stopped), then cut-over by configuration")
	b2 := filepath.Join(tmp, "bundle2")
	if m, err = c.Export(ctx, b2, nil); err != nil {
		return err
	}
	key := c.LedgerKey()
	c.Close()
	self, err := human.Open(ctx, dst)
	if err != nil {
		return err
	}
	defer self.Close()
	if _, err := self.Import(ctx, b2, nil); err != nil {
		return err
	}
	m2, err := self.Export(ctx, filepath.Join(tmp, "bundle3"), nil)
	if err != nil {
		return err
	}
	for _, k := range bundle.Kinds() {
		n := m.Counts[k]
		fmt.Fprintf(out, "   %-19s source %d, destination %d\n", k, n, m2.Counts[k])
		if m2.Counts[k] != n {
			return fmt.Errorf("%s: %d records before the move, %d after", k, n, m2.Counts[k])
		}
	}
	if m2.Checkpoint != m.Checkpoint || self.LedgerKey() != key {
		return fmt.Errorf("the destination does not continue the source's log")
	}

	fmt.Fprintln(out, "5. destination: the same scenario")
	after, err := play(ctx, out, self, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "6. every receipt from before the move verifies after it")
	for _, r := range append(before, after...) {
		if err := human.VerifyReceipt(r, self.LedgerKey()); err != nil {
			return fmt.Errorf("receipt %d: %w", r.Index, err)
		}
	}
	fmt.Fprintf(out, "   %d receipts verified against %s\n", len(before)+len(after), self.LedgerKey())
	return nil
}

func enroll(ctx context.Context, c *human.Client) (*org, error) {
	o := &org{}
	var err error
	newP := func(kind passport.Kind, name string) (*passport.Passport, *passport.Ed25519Signer, error) {
		k, err := passport.GenerateEd25519()
		if err != nil {
			return nil, nil, err
		}
		inc, err := passport.NewInception(kind, name, time.Now(), k)
		if err != nil {
			return nil, nil, err
		}
		p, err := c.RegisterPassport(ctx, inc)
		return p, k, err
	}
	if o.alice, o.aliceKey, err = newP(passport.KindHuman, "alice"); err != nil {
		return nil, err
	}
	if o.bob, _, err = newP(passport.KindHuman, "bob"); err != nil {
		return nil, err
	}
	if o.agent, _, err = newP(passport.KindAgent, "bot"); err != nil {
		return nil, err
	}
	for _, g := range [][2]string{{o.bob.DID, "finance.approver"}, {o.alice.DID, policy.AdminCapability}} {
		if err := c.Grant(ctx, g[0], g[1]); err != nil {
			return nil, err
		}
	}
	cert, err := passport.Delegate(o.aliceKey, passport.Delegation{Issuer: o.alice.DID, Subject: o.agent.DID,
		Scope:     passport.Scope{Actions: []string{"payments.*", "ledger.delete"}, Resources: []string{"invoice:*", "ledger:*"}},
		NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour)})
	if err != nil {
		return nil, err
	}
	if o.dlg, err = c.Delegate(ctx, cert); err != nil {
		return nil, err
	}
	env, err := policy.SignChange(o.aliceKey, policy.Change{Org: c.Org(), Admin: o.alice.DID, Filename: "payments.yaml",
		Document: []byte(drillPolicy), Created: time.Now()})
	if err != nil {
		return nil, err
	}
	_, err = c.PublishPolicy(ctx, env)
	return o, err
}

func call(ctx context.Context, c *human.Client, o *org, s step, tag string) (*human.Outcome, error) {
	out, err := c.Call(ctx, human.Request{Agent: o.agent.DID, Delegation: o.dlg.ID, Action: s.action,
		Resource: s.resource + "-" + tag, Attributes: map[string]any{"amount": s.amount}})
	if err != nil {
		return nil, err
	}
	if out.Status != s.want {
		return nil, fmt.Errorf("%s %s: %s (%s), want %s", s.action, s.resource, out.Status, out.Reason, s.want)
	}
	return out, nil
}

// play runs the scenario and waits until every opened approval task's
// events are on the ledger (so an export right after is an exact cut).
func play(ctx context.Context, out io.Writer, c *human.Client, o *org) ([]*ledger.Receipt, error) {
	var receipts []*ledger.Receipt
	for _, s := range scenario {
		r, err := call(ctx, c, o, s, c.LedgerKey()[:8])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "   %-14s %-12s %-16s rule %s\n", s.action, s.resource, r.Status, r.Decision.Rule)
		receipts = append(receipts, r.Receipts...)
		if err := settle(ctx, c, r); err != nil {
			return nil, err
		}
	}
	return receipts, nil
}

// settle waits until the events of the approval task r opened, if any,
// are on the ledger, so that an export right after is an exact cut.
func settle(ctx context.Context, c *human.Client, r *human.Outcome) error {
	for r.Task != nil {
		t, err := c.Task(ctx, r.Task.ID)
		if err != nil {
			return err
		}
		done := true
		for _, e := range t.Events {
			done = done && e.Recorded
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
