package main

import (
	"fmt"
	"io"
	"os"

	"github.com/reactor-harness/reactor-harness/internal/imageref"
	"github.com/reactor-harness/reactor-harness/k8s"
	"github.com/reactor-harness/reactor-harness/load"
	"github.com/spf13/cobra"
)

// k8sFlags are the k8s-manifest command's settings.
type k8sFlags struct {
	o            k8s.Options
	command, out string
	thresholds   []string
}

func newK8sManifestCmd() *cobra.Command {
	f := &k8sFlags{}
	cmd := &cobra.Command{
		Use:   "k8s-manifest --shards N --target URL [flags] [-- LOAD_ARGS...]",
		Short: "write the Kubernetes objects of a sharded load run",
		Long: `Writes an Indexed Job of N "reactor-harness load --shard i/N" pods, a shared results volume, a
suspended merge Job and a results pod (see docs/kubernetes.md). LOAD_ARGS are further load
flags (--sessions, --rate, --duration, --warmup, --model …), checked here rather than in N
pods after the apply; --shard, --out, --target and --api-key are set by the manifest.
Exit codes: 0, 2 a usage mistake (including options the manifest rejects), 1 it cannot write.`,
		Example: `  # 8 shards of 50 sessions each for 5 minutes
  reactor-harness k8s-manifest --image registry.example/reactor-harness:v1 --shards 8 \
    --target https://api.example --api-key-secret reactor-key -- --sessions 50 --duration 5m

  # judge the merged run, write the manifest to a file
  reactor-harness k8s-manifest --image IMAGE --shards 4 --target URL \
    --threshold 'frame_latency.p99<50ms' --out run.yaml -- --duration 2m`,
		Args: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); (dash < 0 && len(args) > 0) || dash > 0 {
				return fmt.Errorf("unexpected argument %q (load arguments go after --)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, loadArgs []string) error {
			return exit(runK8sManifest(f, loadArgs, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	o := &f.o
	fs.SortFlags = false
	fs.StringVar(&o.Image, "image", imageref.Default(), "`image` with the reactor-harness binary (default: the one `make image` builds from this binary)")
	fs.IntVar(&o.Shards, "shards", 0, fmt.Sprintf("number of load pods, 1–%d (required)", k8s.MaxShards))
	fs.StringVar(&o.Target, "target", "", "base `URL` of the Reactor deployment (required)")
	fs.StringVar(&o.APIKeySecret, "api-key-secret", "", "Secret holding the API key (passed as REACTOR_API_KEY)")
	fs.StringVar(&o.APIKeySecretKey, "api-key-secret-key", k8s.DefaultSecretKey, "key of the API key in that Secret")
	fs.StringArrayVar(&f.thresholds, "threshold", nil, "threshold `expr` judged by the merge on the merged result (repeatable)")
	fs.StringVar(&o.Name, "name", k8s.DefaultName, "prefix of every object's name (DNS label, ≤ 40 characters)")
	fs.StringVar(&o.Namespace, "namespace", "", "namespace of every object (default: kubectl's)")
	fs.StringVar(&o.ResultsPVC, "results-pvc", "", "results volume claim (default <name>-results)")
	fs.BoolVar(&o.ExistingPVC, "existing-pvc", false, "use an existing claim instead of writing one")
	fs.StringVar(&o.StorageClass, "storage-class", "", "storage class of the claim, one offering ReadWriteMany (default: the cluster's)")
	fs.StringVar(&o.StorageSize, "storage-size", k8s.DefaultStorageSize, "size of the claim")
	fs.StringVar(&o.CPU, "cpu", "", "each shard's CPU request")
	fs.StringVar(&o.Memory, "memory", "", "each shard's memory request and limit")
	fs.IntVar(&o.MetricsPort, "metrics-port", 0, "each shard serves live Prometheus metrics on this `port`, its pods annotated prometheus.io/scrape (0 = none)")
	fs.DurationVar(&o.ActiveDeadline, "deadline", 0, "bound on the shard Job (activeDeadlineSeconds; 0 = none)")
	fs.StringVar(&o.FetchImage, "fetch-image", k8s.DefaultFetchImage, "image of the results pod (\"-\" leaves the pod out)")
	fs.DurationVar(&o.FetchHold, "fetch-hold", k8s.DefaultFetchHold, "how long the results pod stays up")
	fs.StringVar(&f.command, "command", "reactor-harness", "the binary's path in the image")
	fs.StringVar(&f.out, "out", "", "write the manifest to this `file` instead of stdout")
	groupFlags(fs, "Run", "image", "shards", "target", "api-key-secret", "api-key-secret-key", "threshold", "metrics-port")
	groupFlags(fs, "Objects", "name", "namespace", "results-pvc", "existing-pvc", "storage-class", "storage-size",
		"cpu", "memory", "deadline", "fetch-image", "fetch-hold", "command")
	groupFlags(fs, "Output", "out")
	return cmd
}

// runK8sManifest writes the manifest of f with the pods' loadArgs.
func runK8sManifest(f *k8sFlags, loadArgs []string, stdout, stderr io.Writer) int {
	o, command, out, thresholds := f.o, f.command, f.out, f.thresholds
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
