package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

func init() {
	register(&command{
		name:    "ledger",
		summary: "export the org's ledger as C2SP tiles, or verify such an export offline",
		run:     runLedger,
	})
}

const ledgerUsage = `usage:
  human ledger export --out DIR [--from N] [--to M] [config flags]
  human ledger verify [--key VKEY | --key-file FILE] [--since CHECKPOINT] DIR

export writes entries [N, M) of the org's ledger (default: all of it) as a
C2SP tlog-tiles directory: hash tiles, entry bundles, the signed checkpoint
at size M, the log's verifier key and a README of the layout.

verify checks such a directory offline: every entry's signature, every
hash tile, the tree root against the checkpoint signature, and, with
--since, that the log extends an earlier checkpoint. Exit 0 only when all
holds; otherwise it names the first bad index and why (exit 1).
`

func runLedger(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return exitUsage
	}
	switch args[0] {
	case "export":
		return runLedgerExport(ctx, args[1:], stdout, stderr)
	case "verify":
		return runLedgerVerify(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stderr, ledgerUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "human ledger: unknown subcommand %q\n\n%s", args[0], ledgerUsage)
	return exitUsage
}

func runLedgerExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ledger export", flag.ContinueOnError)
	cfg := configFlags(fs)
	out := fs.String("out", "", "directory to write the export to (required)")
	from := fs.Uint64("from", 0, "first entry to export (rounded down to a multiple of 256)")
	to := fs.Uint64("to", 0, "tree size to export up to; 0 means the current size")
	if code, ok := parseFlags(fs, args, ledgerUsage, stderr); !ok {
		return code
	}
	if *out == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "human ledger export: --out DIR is required and takes no arguments")
		fs.Usage()
		return exitUsage
	}
	c, err := openClient(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "human ledger export: %v\n", err)
		return ledgerExitCode(err)
	}
	defer c.Close()
	var prog *progress
	m, err := c.Ledger().Export(ctx, ledger.DirSink(*out), &ledger.ExportOptions{
		From: *from, To: *to,
		Progress: func(done, total uint64) {
			if prog == nil {
				prog = newProgress(stderr, "export", int64(total))
			}
			prog.Update(int64(done))
		},
	})
	if prog != nil {
		prog.Done()
	}
	if err != nil {
		fmt.Fprintf(stderr, "human ledger export: %v\n", err)
		return ledgerExitCode(err)
	}
	fmt.Fprintf(stdout, "exported entries [%d, %d) of %s to %s\nverifier key: %s\n", m.From, m.Size, m.Origin, *out, m.VerifierKey)
	return exitOK
}

func runLedgerVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ledger verify", flag.ContinueOnError)
	key := fs.String("key", "", "the log's published note verifier key (default: the export's own log.vkey)")
	keyFile := fs.String("key-file", "", "file holding the log's published verifier key")
	since := fs.String("since", "", "an earlier signed checkpoint file the export must extend")
	if code, ok := parseFlags(fs, args, ledgerUsage, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 || (*key != "" && *keyFile != "") {
		fmt.Fprintln(stderr, "human ledger verify: want exactly one DIR, and at most one of --key and --key-file")
		fs.Usage()
		return exitUsage
	}
	dir := fs.Arg(0)
	opts := &ledger.VerifyExportOptions{VerifierKey: *key}
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			fmt.Fprintf(stderr, "human ledger verify: %v\n", err)
			return exitUsage
		}
		opts.VerifierKey = strings.TrimSpace(string(b))
	}
	if *since != "" {
		b, err := os.ReadFile(*since)
		if err != nil {
			fmt.Fprintf(stderr, "human ledger verify: %v\n", err)
			return exitUsage
		}
		opts.Since = b
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "human ledger verify: %s is not a directory\n", dir)
		return exitUsage
	}
	var prog *progress
	opts.Progress = func(done, total uint64) {
		if prog == nil {
			prog = newProgress(stderr, "verify", int64(total))
		}
		prog.Update(int64(done))
	}
	rep, err := ledger.VerifyExport(ctx, os.DirFS(dir), opts)
	if prog != nil {
		prog.Done()
	}
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: %v\n", err)
		return exitCheck
	}
	fmt.Fprintf(stdout, "OK: entries [%d, %d) of %s verified against its signed checkpoint of size %d\n", rep.From, rep.Size, rep.Origin, rep.Size)
	if rep.SinceSize > 0 || opts.Since != nil {
		fmt.Fprintf(stdout, "OK: consistent with the earlier checkpoint of size %d\n", rep.SinceSize)
	}
	if rep.KeyFromExport {
		fmt.Fprintf(stdout, "NOTE: the key came from the export itself (%s); compare it with the key the org published, or pass --key\n", rep.VerifierKey)
	}
	return exitOK
}

// ledgerExitCode maps a library error to an exit code: bad arguments are usage
// errors, anything else a failed check.
func ledgerExitCode(err error) int {
	if errors.Is(err, errs.ErrInvalidArgument) {
		return exitUsage
	}
	return exitCheck
}
