package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/reactor-harness/reactor-harness/internal/imageref"
)

func newTestFlagSet(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// TestK8sManifestCommand: the flags of docs/kubernetes.md reach the
// objects, and the stream decodes into the official types.
func TestK8sManifestCommand(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"k8s-manifest", "--name", "capacity", "--namespace", "load", "--image", "registry.example/rh:1",
		"--shards", "8", "--target", "https://api.reactor.example", "--api-key-secret", "reactor-api-key",
		"--storage-class", "nfs-client", "--threshold", "frame_latency.p99<120ms", "--threshold", "errors.rate<1%",
		"--cpu", "2", "--memory", "2Gi", "--deadline", "3h", "--",
		"--sessions", "4000", "--duration", "10m", "--warmup", "30s"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	docs := strings.Split(stdout.String(), "\n---\n")
	var jobs []batchv1.Job
	var cm corev1.ConfigMap
	for _, d := range docs[1:] {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(d), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "Job":
			var j batchv1.Job
			if err := yaml.UnmarshalStrict([]byte(d), &j); err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, j)
		case "ConfigMap":
			if err := yaml.UnmarshalStrict([]byte(d), &cm); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(jobs) != 2 || jobs[0].Name != "capacity-shards" || jobs[0].Namespace != "load" || *jobs[0].Spec.Completions != 8 {
		t.Fatalf("jobs %+v", jobs)
	}
	load := strings.Join(jobs[0].Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{"--shard $(JOB_COMPLETION_INDEX)/8", "--sessions 4000 --duration 10m --warmup 30s"} {
		if !strings.Contains(load, want) {
			t.Errorf("load args %q lack %q", load, want)
		}
	}
	if strings.Contains(load, "scenario") {
		t.Errorf("load args %q name a scenario", load)
	}
	merge := strings.Join(jobs[1].Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.Contains(merge, "--threshold frame_latency.p99<120ms --threshold errors.rate<1%") || !strings.Contains(merge, "/results/shard-7") {
		t.Errorf("merge args %q", merge)
	}
	// The ConfigMap records the two command lines and holds nothing else.
	if len(cm.Data) != 2 || !strings.Contains(cm.Data["load-command"], "--sessions 4000") ||
		!strings.Contains(cm.Data["merge-command"], "--threshold 'frame_latency.p99<120ms'") {
		t.Errorf("config map %v", cm.Data)
	}
	// --out writes a file instead.
	out := filepath.Join(dir, "run.yaml")
	stdout.Reset()
	if code := dispatch([]string{"k8s-manifest", "--image", "i", "--shards", "2", "--target", "http://t", "--out", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("--out: exit %d: %s", code, stderr.String())
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Contains(b, []byte("kind: Job")) {
		t.Fatalf("%s: %v", out, err)
	}
}

func TestK8sManifestUsageErrors(t *testing.T) {
	base := []string{"k8s-manifest", "--image", "i", "--shards", "2", "--target", "http://t"}
	for name, args := range map[string][]string{
		"empty image":      {"k8s-manifest", "--image", "", "--shards", "2", "--target", "http://t"},
		"no shards":        {"k8s-manifest", "--image", "i", "--target", "http://t"},
		"bad target":       {"k8s-manifest", "--image", "i", "--shards", "2", "--target", "t"},
		"bad threshold":    append(append([]string{}, base...), "--threshold", "latency<5"),
		"unknown load arg": append(append([]string{}, base...), "--", "--sesions", "5"),
		"reserved load":    append(append([]string{}, base...), "--", "--shard", "0/2"),
		"stray argument":   append(append([]string{}, base...), "extra"),
		"scenario flag":    append(append([]string{}, base...), "--scenario", "s.yaml"),
		"scenario in load": append(append([]string{}, base...), "--", "--sessions", "5", "--scenario", "s.yaml"),
		"bad flag":         {"k8s-manifest", "--frobnicate"},
	} {
		var stdout, stderr bytes.Buffer
		if code := dispatch(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, stderr.String())
		}
	}
}

// Without --image the manifest names the image `make image` builds from
// this very binary (same name:tag, from the same build info).
func TestK8sManifestDefaultImage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"k8s-manifest", "--shards", "2", "--target", "http://t"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if want := "image: " + imageref.Default(); !strings.Contains(stdout.String(), want) {
		t.Fatalf("manifest has no %q", want)
	}
}

// Shards always have a real target, so a scenario has no place in the
// manifest: the help does not offer one and a load argument is refused.
func TestK8sManifestNoScenario(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"k8s-manifest", "--help"}, &stdout, &stderr); code != exitOK || strings.Contains(strings.ToLower(stderr.String()), "scenario") {
		t.Errorf("help: exit %d\n%s", code, stderr.String())
	}
	stderr.Reset()
	code := dispatch([]string{"k8s-manifest", "--image", "i", "--shards", "2", "--target", "http://t", "--", "--scenario", "s.yaml"}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "a shard always has a real target") {
		t.Errorf("scenario in load args: exit %d: %s", code, stderr.String())
	}
}
