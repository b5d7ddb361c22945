package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/reactor-harness/reactor-harness/load"
	"github.com/spf13/cobra"
)

// runMerge is `reactor-harness merge [--out DIR] [--threshold EXPR]... DIR...`:
// it merges the output folders of the shards of a load run by histogram
// (load.Merge) and exits as `load` does: 0 every threshold passed, 99 a
// threshold failed, 1 the merge or a shard failed (or shards are missing),
// 2 a usage mistake.
func newMergeCmd() *cobra.Command {
	var out string
	var thresholds []string
	var allowErrs bool
	cmd := &cobra.Command{
		Use:   "merge [flags] DIR...",
		Short: "merge load shards' output folders by histogram",
		Long: `Merges the output folders of "reactor-harness load --shard i/n" (or of several runs of one
load) by histogram, computes rates over the union of their time windows, re-evaluates the
thresholds and writes the merged folder (run.hlog, summary.json, summary.txt, <metric>.hgrm).
Exit codes as load's: 0 pass, 99 a threshold failed or sessions failed unaccepted, 1 a shard is
missing or failed (an incomplete merge proves nothing), 2 a usage mistake.`,
		Example: `  # the four shards of a distributed run
  reactor-harness merge --out results/merged results/shard-*

  # with a threshold judged on the merged result
  reactor-harness merge --threshold 'frame_latency.p99<50ms' --out merged shard-0 shard-1`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("no shard folders given")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, dirs []string) error {
			return exit(runMerge(dirs, out, thresholds, allowErrs, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&out, "out", "", "merged results `folder` (default results/merged-<time>)")
	fs.StringArrayVar(&thresholds, "threshold", nil, "threshold `expr` judged on the merged result, e.g. frame_latency.p99<50ms (repeatable; the shards' own thresholds are re-evaluated too)")
	fs.BoolVar(&allowErrs, "allow-session-errors", false, "accept failed sessions in the merged run (as load's flag of that name)")
	return cmd
}

// runMerge merges dirs into out and judges the result.
func runMerge(dirs []string, out string, thresholds []string, allowErrs bool, stdout, stderr io.Writer) int {
	if _, err := load.ParseThresholds(thresholds); err != nil {
		fmt.Fprintln(stderr, "reactor-harness merge:", err)
		return exitUsage
	}
	if out == "" {
		out = filepath.Join("results", "merged-"+time.Now().UTC().Format("20060102-150405"))
	}
	res, err := load.Merge(dirs, load.MergeOptions{OutDir: out, Thresholds: thresholds, AllowSessionErrors: allowErrs})
	if res == nil {
		fmt.Fprintln(stderr, "reactor-harness merge:", err)
		return load.ExitCode(nil, err)
	}
	_ = res.WriteText(stdout)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness merge:", err)
		return exitHarnessError
	}
	fmt.Fprintf(stdout, "merged results in %s\n", out)
	return res.ExitCode()
}
