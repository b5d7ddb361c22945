package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/reactor-harness/reactor-harness/load"
)

// runMerge is `reactor-harness merge [--out DIR] [--threshold EXPR]... DIR...`:
// it merges the output folders of the shards of a load run by histogram
// (load.Merge) and exits as `load` does: 0 every threshold passed, 99 a
// threshold failed, 1 the merge or a shard failed (or shards are missing),
// 2 a usage mistake.
func runMerge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	allowErrs := fs.Bool("allow-session-errors", false, "accept failed sessions in the merged run (as load's flag of that name)")
	out := fs.String("out", "", "merged results folder (default results/merged-<time>)")
	var thresholds multiFlag
	fs.Var(&thresholds, "threshold", "threshold judged on the merged result, e.g. frame_latency.p99<50ms (repeatable; the shards' own thresholds are re-evaluated too)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reactor-harness merge [--out DIR] [--threshold EXPR]... DIR...")
		fmt.Fprintln(stderr, "\nMerges the output folders of `reactor-harness load --shard i/n` (or of several runs of one load) by")
		fmt.Fprintln(stderr, "histogram, computes rates over the union of their time windows, re-evaluates thresholds and writes")
		fmt.Fprintln(stderr, "the merged folder (run.hlog, summary.json, summary.txt, <metric>.hgrm).")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	dirs, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(dirs) == 0 {
		fmt.Fprintln(stderr, "reactor-harness merge: no shard folders given")
		fs.Usage()
		return exitUsage
	}
	if *out == "" {
		*out = filepath.Join("results", "merged-"+time.Now().UTC().Format("20060102-150405"))
	}
	res, err := load.Merge(dirs, load.MergeOptions{OutDir: *out, Thresholds: thresholds, AllowSessionErrors: *allowErrs})
	if res == nil {
		fmt.Fprintln(stderr, "reactor-harness merge:", err)
		return load.ExitCode(nil, err)
	}
	_ = res.WriteText(stdout)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness merge:", err)
		return exitHarnessError
	}
	fmt.Fprintf(stdout, "merged results in %s\n", *out)
	return res.ExitCode()
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments (`merge DIR... --out X` works as well as
// `merge --out X DIR...`); everything after "--" is positional. It returns
// the positional arguments, and an exit code ≥ 0 when parsing failed (or
// help was asked for).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, int) {
	var pos []string
	for range len(args) + 1 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK
			}
			return nil, exitUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// fs.Parse stops at the first positional argument or after "--".
		if len(args)-len(rest) > 0 && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, -1
}
