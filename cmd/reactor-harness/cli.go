package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// exitError carries a command's exit code through cobra, which knows only
// errors: the command has already said why on stderr.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// exit turns an exit code into what a RunE returns.
func exit(code int) error {
	if code == exitOK {
		return nil
	}
	return exitError(code)
}

// newRootCmd builds the whole command tree; a fresh tree per dispatch keeps
// flag values from leaking between calls in tests.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "reactor-harness",
		Short: "protocol-conformance and load-testing harness for Reactor",
		Long: `reactor-harness tests Reactor deployments and SDKs: a mock Reactor that speaks the real
wire protocol, conformance suites for servers and SDKs, and a load runner of real WebRTC
sessions with HdrHistogram latencies and k6-style thresholds.

Exit codes: 0 success; 1 the harness could not do its job (target unreachable, no session
became ready, interrupted); 2 bad command line or configuration; 99 the target failed (a
threshold, a failed session, a conformance case).`,
		Example: `  # a short load run against the embedded mock: no account, no network
  reactor-harness load --sessions 10 --duration 10s

  # the server conformance catalog against a deployment
  reactor-harness conform server --target https://api.example --api-key "$REACTOR_API_KEY"

  # the mock for an SDK's own tests, with a machine-readable ready line
  reactor-harness mock --listen 127.0.0.1:0 --json`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// With no command, print the overview and exit 2: a bare
		// invocation in a script is a mistake, not a success.
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Usage()
			return exitError(exitUsage)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.AddGroup(&cobra.Group{ID: "run", Title: "Testing commands:"},
		&cobra.Group{ID: "results", Title: "Results commands:"})
	for _, c := range []*cobra.Command{newMockCmd(), newLoadCmd(), newConformCmd()} {
		c.GroupID = "run"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newMergeCmd(), newReportCmd(), newK8sManifestCmd()} {
		c.GroupID = "results"
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCmd())
	cobra.AddTemplateFunc("groupedFlags", groupedFlags)
	setUsageTemplate(root)
	return root
}

// execute runs the tree and maps its outcome to an exit code. Cobra's own
// errors (unknown command or flag, bad value, wrong arguments) are usage
// mistakes: one line on stderr naming the problem and where help is, exit 2.
func execute(root *cobra.Command, stderr io.Writer) int {
	cmd, err := root.ExecuteC()
	var code exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintf(stderr, "%s: %v (see '%s --help')\n", cmd.CommandPath(), err, cmd.CommandPath())
	return exitUsage
}

// flagError wraps a flag parse error so it names the command.
func flagError(_ *cobra.Command, err error) error { return err }

// longFlagsWithOneDash rewrites -name to --name for the long flags of the
// command args select: the CLI used Go's flag package, which accepts both,
// and scripts written then keep working.
func longFlagsWithOneDash(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return args
	}
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) > 1 && (cmd.Flags().Lookup(name) != nil || cmd.InheritedFlags().Lookup(name) != nil) {
			out[i] = "-" + a
		}
	}
	return out
}

// flagGroupAnnotation marks which help section a flag is listed in.
const flagGroupAnnotation = "reactor-harness/group"

// groupFlags files the named flags under title in the command's help.
func groupFlags(fs *pflag.FlagSet, title string, names ...string) {
	for _, n := range names {
		if fs.Lookup(n) == nil {
			panic("groupFlags: no flag " + n) // a typo here is a programming error
		}
		_ = fs.SetAnnotation(n, flagGroupAnnotation, []string{title})
	}
}

// groupedFlags renders a command's local flags section by section, in the
// order the groups were first declared; ungrouped flags come last.
func groupedFlags(c *cobra.Command) string {
	var order []string
	sets := map[string]*pflag.FlagSet{}
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		title := "Flags"
		if g := f.Annotations[flagGroupAnnotation]; len(g) > 0 {
			title = g[0]
		}
		if sets[title] == nil {
			sets[title] = pflag.NewFlagSet(title, pflag.ContinueOnError)
			sets[title].SortFlags = false
			order = append(order, title)
		}
		sets[title].AddFlag(f)
	})
	var b strings.Builder
	for _, title := range order {
		fmt.Fprintf(&b, "\n%s:\n%s", title, sets[title].FlagUsagesWrapped(100))
	}
	return b.String()
}

// setUsageTemplate is cobra's default usage template with the flags listed
// by group.
func setUsageTemplate(root *cobra.Command) {
	t := root.UsageTemplate()
	const flagsSection = `{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}`
	if !strings.Contains(t, flagsSection) {
		panic("cobra's usage template changed: update setUsageTemplate")
	}
	root.SetUsageTemplate(strings.Replace(t, flagsSection,
		`{{if .HasAvailableLocalFlags}}
{{groupedFlags . | trimTrailingWhitespaces}}{{end}}`, 1))
}
