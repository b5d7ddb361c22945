package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/reactor-harness/reactor-harness/internal/imageref"
	"github.com/reactor-harness/reactor-harness/k8s"
	"github.com/reactor-harness/reactor-harness/load"
)

// runK8sManifest is `reactor-harness k8s-manifest [flags] -- LOAD_ARGS...`:
// it writes to stdout the Kubernetes objects of a distributed load run
// (package k8s, docs/kubernetes.md). Exit codes: 0, 2 for a usage mistake
// (including options the manifest rejects), 1 when it cannot write.
func runK8sManifest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("k8s-manifest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o k8s.Options
	var command, out string
	var thresholds multiFlag
	fs.StringVar(&o.Image, "image", imageref.Default(), "image with the reactor-harness binary (default: the one `make image` builds from this binary)")
	fs.IntVar(&o.Shards, "shards", 0, fmt.Sprintf("number of load pods, 1–%d (required)", k8s.MaxShards))
	fs.StringVar(&o.Target, "target", "", "base URL of the Reactor deployment (required)")
	fs.StringVar(&o.Name, "name", k8s.DefaultName, "prefix of every object's name (DNS label, ≤ 40 characters)")
	fs.StringVar(&o.Namespace, "namespace", "", "namespace of every object (default: kubectl's)")
	fs.StringVar(&o.APIKeySecret, "api-key-secret", "", "Secret holding the API key (passed as REACTOR_API_KEY)")
	fs.StringVar(&o.APIKeySecretKey, "api-key-secret-key", k8s.DefaultSecretKey, "key of the API key in that Secret")
	fs.Var(&thresholds, "threshold", "threshold judged by the merge on the merged result (repeatable)")
	fs.StringVar(&o.ResultsPVC, "results-pvc", "", "results volume claim (default <name>-results)")
	fs.BoolVar(&o.ExistingPVC, "existing-pvc", false, "use an existing claim instead of writing one")
	fs.StringVar(&o.StorageClass, "storage-class", "", "storage class of the claim, one offering ReadWriteMany (default: the cluster's)")
	fs.StringVar(&o.StorageSize, "storage-size", k8s.DefaultStorageSize, "size of the claim")
	fs.StringVar(&o.CPU, "cpu", "", "each shard's CPU request")
	fs.StringVar(&o.Memory, "memory", "", "each shard's memory request and limit")
	fs.DurationVar(&o.ActiveDeadline, "deadline", 0, "bound on the shard Job (activeDeadlineSeconds; 0 = none)")
	fs.StringVar(&o.FetchImage, "fetch-image", k8s.DefaultFetchImage, "image of the results pod (\"-\" leaves the pod out)")
	fs.DurationVar(&o.FetchHold, "fetch-hold", k8s.DefaultFetchHold, "how long the results pod stays up")
	fs.StringVar(&command, "command", "reactor-harness", "the binary's path in the image")
	fs.StringVar(&out, "out", "", "write the manifest to this file instead of stdout")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reactor-harness k8s-manifest --image IMAGE --shards N --target URL [flags] [-- LOAD_ARGS...]")
		fmt.Fprintln(stderr, "\nWrites an Indexed Job of N `reactor-harness load --shard i/N` pods, a shared results volume, a")
		fmt.Fprintln(stderr, "suspended merge Job and a results pod (see docs/kubernetes.md). LOAD_ARGS are further load flags")
		fmt.Fprintln(stderr, "(--sessions, --rate, --duration, --warmup, --model …); --shard, --out, --target and --api-key are set.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	flagArgs, loadArgs := args, []string(nil)
	for i, a := range args {
		if a == "--" {
			flagArgs, loadArgs = args[:i], args[i+1:]
			break
		}
	}
	if err := fs.Parse(flagArgs); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "reactor-harness k8s-manifest: unexpected argument %q (load arguments go after --)\n", fs.Arg(0))
		return exitUsage
	}
	o.Command = []string{command}
	o.LoadArgs = loadArgs
	for _, t := range thresholds {
		o.MergeArgs = append(o.MergeArgs, "--threshold", t)
	}
	if _, err := load.ParseThresholds(thresholds); err != nil {
		fmt.Fprintln(stderr, "reactor-harness k8s-manifest:", err)
		return exitUsage
	}
	// Load arguments are checked here, not in N pods after the apply.
	if _, code := parseLoadFlags(append(append([]string{}, loadArgs...), "--out", os.DevNull), io.Discard); code >= 0 {
		_, _ = parseLoadFlags(loadArgs, stderr) // prints the flag error
		fmt.Fprintf(stderr, "reactor-harness k8s-manifest: bad load arguments after --: %q\n", loadArgs)
		return exitUsage
	}
	y, err := k8s.Manifests(o)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness k8s-manifest:", err)
		return exitUsage
	}
	if out == "" {
		if _, err := stdout.Write(y); err != nil {
			fmt.Fprintln(stderr, "reactor-harness k8s-manifest:", err)
			return exitHarnessError
		}
		return exitOK
	}
	if err := os.WriteFile(out, y, 0o644); err != nil {
		fmt.Fprintln(stderr, "reactor-harness k8s-manifest:", err)
		return exitHarnessError
	}
	fmt.Fprintf(stdout, "wrote %s (%d shards against %s); apply it with: kubectl apply -f %s\n", out, o.Shards, o.Target, out)
	return exitOK
}
