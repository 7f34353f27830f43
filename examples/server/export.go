package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	_ "github.com/humanos/human/adapters/neo4j" // --graph neo4j://
	_ "github.com/humanos/human/adapters/s3"    // --policies s3://
	"github.com/humanos/human/bundle"
)

func init() {
	register(&command{name: "export", summary: "write the org's whole state as a signed bundle (see docs/migration.md)", run: runExport})
	register(&command{name: "import", summary: "verify a bundle, then write it into the configured stores", run: runImport})
}

const exportUsage = `usage:
  human export --out DIR [config flags]
  human import --in DIR [config flags]

export writes the whole state of the org (passports and their event logs,
delegations, revocations, capability graph, policy versions, tasks, budget
counters, and the ledger as C2SP tiles) to DIR, signed by the org key.

import verifies every signature, every file hash and the ledger before
writing anything, then writes the bundle into the configured stores; the
destination must use the same org key (--org-key-file or KMS). Re-running
an import completes an interrupted one and changes nothing after a
completed one. Exit 0 ok, 1 refused or failed, 2 usage.
`

// bundleProgress draws one progress line per stage, on a terminal only.
func bundleProgress(stderr io.Writer) (bundle.Progress, func()) {
	var cur *progress
	var stage string
	return func(s string, done, total uint64) {
			if cur == nil || s != stage {
				if cur != nil {
					cur.Done()
				}
				stage, cur = s, newProgress(stderr, s, int64(total))
			}
			cur.Update(int64(done))
		}, func() {
			if cur != nil {
				cur.Done()
			}
		}
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	cfg := configFlags(fs)
	out := fs.String("out", "", "directory to write the bundle to; must not exist or be empty (required)")
	if code, ok := parseFlags(fs, args, exportUsage, stderr); !ok {
		return code
	}
	if *out == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "human export: --out DIR is required and takes no arguments")
		fs.Usage()
		return exitUsage
	}
	c, err := openClient(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "human export: %v\n", err)
		return exitCheck
	}
	defer c.Close()
	prog, done := bundleProgress(stderr)
	m, err := c.Export(ctx, *out, &bundle.ExportOptions{Progress: prog})
	done()
	if err != nil {
		fmt.Fprintf(stderr, "human export: %v\n", err)
		return exitCheck
	}
	fmt.Fprintf(stdout, "exported org %s at ledger size %d to %s\n", m.Org, m.Size, *out)
	for _, k := range bundleKinds {
		fmt.Fprintf(stdout, "  %-19s %d\n", k, m.Counts[k])
	}
	return exitOK
}

var bundleKinds = bundle.Kinds()

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	cfg := configFlags(fs)
	in := fs.String("in", "", "bundle directory to import (required)")
	if code, ok := parseFlags(fs, args, exportUsage, stderr); !ok {
		return code
	}
	if *in == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "human import: --in DIR is required and takes no arguments")
		fs.Usage()
		return exitUsage
	}
	c, err := openClient(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "human import: %v\n", err)
		return exitCheck
	}
	defer c.Close()
	prog, done := bundleProgress(stderr)
	rep, err := c.Import(ctx, *in, &bundle.ImportOptions{Progress: prog})
	done()
	if err != nil {
		fmt.Fprintf(stderr, "human import: refused or failed: %v\n", err)
		return exitCheck
	}
	fmt.Fprintf(stdout, "imported org %s at ledger size %d (destination log was at %d)\n", rep.Manifest.Org, rep.Manifest.Size, rep.LedgerFrom)
	for _, k := range bundleKinds {
		fmt.Fprintf(stdout, "  %-19s %d in bundle, %d written", k, rep.Manifest.Counts[k], rep.Written[k])
		if n := rep.Skipped[k]; n > 0 {
			fmt.Fprintf(stdout, ", %d skipped (the destination store does not keep them)", n)
		}
		fmt.Fprintln(stdout)
	}
	return exitOK
}
