// Command reactor-harness is the thin CLI over the harness's packages: it
// parses flags (cobra, as kubectl and k6 do) and hands off to mockserver, the
// load runner, the suites and the report writers. It holds no protocol
// logic; every exit code it returns is documented in the README.
package main

import (
	"io"
	"os"
)

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs one command line and returns its exit code. Tests call it
// directly; main only adds the process's streams.
func dispatch(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(longFlagsWithOneDash(root, args))
	return execute(root, stderr)
}
