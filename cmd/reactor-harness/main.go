// Command reactor-harness is the thin CLI over the harness's packages: it
// parses flags and hands off to mockserver (and, as they land, the load
// runner, the suites and the report writers). It holds no protocol logic.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: a name, a one-line summary and its entry point.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"mock":    {"run the mock Reactor server", runMock},
	"load":    {"run a load test (embedded mock unless --target)", runLoad},
	"conform": {"run a conformance suite: conform server [--target URL]", runConform},
	"version": {"print the harness version", runVersion},

	"merge":        {"merge load shards' output folders by histogram", runMerge},
	"report":       {"write one self-contained HTML report (Ginkgo JSON, load folders)", runReport},
	"k8s-manifest": {"write the Kubernetes objects of a sharded load run", runK8sManifest},
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "reactor-harness: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: reactor-harness <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'reactor-harness <command> -h' for a command's flags")
}

func runVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "reactor-harness", version)
	return exitOK
}
