package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version may be set at link time (-X main.version=v1.2.3, as the release
// build does); otherwise it comes from the module's build info, so a binary
// from `go install …@v1.2.3` says v1.2.3 without any flag.
var version = ""

// buildInfo is what `version` reports: the module version and the VCS
// revision the binary was built from.
type buildInfo struct {
	Version, Revision, Time, GoVersion string
	Modified                           bool
}

// readBuildInfo reads the binary's build info; the fields it cannot know
// stay empty.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "" && bi.Main.Version != "" {
		b.Version = bi.Main.Version // "(devel)" for a build from a checkout
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// versionString is the one-line version: "v1.2.3 (revision abc123def456,
// 2026-12-07T10:00:00Z)"; a build from a checkout has Go's pseudo-version
// (v0.0.0-<time>-<commit>, +dirty when modified).
func versionString() string {
	b := readBuildInfo()
	v := b.Version
	if v == "" {
		v = "(unknown)"
	}
	var extra []string
	if b.Revision != "" {
		rev := b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		extra = append(extra, "revision "+rev)
	} else {
		extra = append(extra, "no VCS revision recorded (built with -buildvcs=false?)")
	}
	if b.Time != "" {
		extra = append(extra, b.Time)
	}
	if b.Modified {
		extra = append(extra, "modified")
	}
	return fmt.Sprintf("%s (%s)", v, strings.Join(extra, ", "))
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the harness version and the revision it was built from",
		Long: `Prints the module version and the VCS revision from the binary's build info
(runtime/debug.ReadBuildInfo): a binary from "go install …@vX" says vX; one built from a
checkout says a pseudo-version and the commit. Same as --version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := readBuildInfo()
			fmt.Fprintln(cmd.OutOrStdout(), "reactor-harness", versionString())
			fmt.Fprintln(cmd.OutOrStdout(), "go", b.GoVersion, runtime.GOOS+"/"+runtime.GOARCH)
			return nil
		},
	}
}
