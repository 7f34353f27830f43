// Command human is the HUMAN reference binary: the REST server and the
// operator's tools (ledger export and verify, policy tooling, migrations,
// state export and import), thin over the library.
//
// Build it with:
//
//	go build -o human ./examples/server
//
// Every command reads the same configuration as the library
// (HUMAN_DATA_DIR, HUMAN_STORE, HUMAN_LEDGER, HUMAN_BASE_URL, HUMAN_ORG,
// HUMAN_ORG_KEY_FILE), each also settable by a flag. Exit codes: 0 ok,
// 1 a check failed, 2 usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// Exit codes shared by every command.
const (
	exitOK    = 0
	exitCheck = 1
	exitUsage = 2
)

// command is one top-level subcommand. Each lives in its own file and
// registers itself in an init function, so features stay in the file that
// implements them.
type command struct {
	name    string
	summary string
	// run executes the command with the arguments after its name. It
	// prints usage to stderr and returns exitUsage on bad arguments.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "human: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: human COMMAND [ARGS]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'human COMMAND --help' for a command's flags.")
}

// parseFlags parses args with fs, whose usage prints usage and the flags.
// ok is false when the command should stop with code: exitOK after
// --help, exitUsage after a bad flag (fs has printed why).
func parseFlags(fs *flag.FlagSet, args []string, usage string, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}
