package k8s

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func testOptions() Options {
	return Options{
		Name: "capacity", Namespace: "load-test", Image: "registry.example/reactor-harness:0.4.0",
		Shards: 4, Target: "https://api.reactor.example", APIKeySecret: "reactor-api-key",
		LoadArgs:     []string{"--sessions", "2000", "--duration", "10m", "--warmup", "30s"},
		MergeArgs:    []string{"--threshold", "frame_latency.p99<120ms"},
		StorageClass: "nfs-client", StorageSize: "2Gi", CPU: "2", Memory: "3Gi",
		ActiveDeadline: 2 * time.Hour,
	}
}

// decoded is the stream read back through the API types.
type decoded struct {
	cm     *corev1.ConfigMap
	pvc    *corev1.PersistentVolumeClaim
	jobs   map[string]*batchv1.Job
	pod    *corev1.Pod
	header string
	docs   int
}

// decodeStrict splits a YAML stream and decodes each document into its API
// type with unknown and duplicate fields rejected.
func decodeStrict(t *testing.T, stream []byte) decoded {
	t.Helper()
	parts := strings.Split(string(stream), "\n---\n")
	d := decoded{jobs: map[string]*batchv1.Job{}, header: parts[0]}
	for _, doc := range parts[1:] {
		d.docs++
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("document %d: %v", d.docs, err)
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "v1/ConfigMap":
			d.cm = &corev1.ConfigMap{}
			obj = d.cm
		case "v1/PersistentVolumeClaim":
			d.pvc = &corev1.PersistentVolumeClaim{}
			obj = d.pvc
		case "batch/v1/Job":
			obj = &batchv1.Job{}
		case "v1/Pod":
			d.pod = &corev1.Pod{}
			obj = d.pod
		default:
			t.Fatalf("document %d: unexpected %s %s", d.docs, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("document %d (%s) does not decode strictly: %v\n%s", d.docs, tm.Kind, err, doc)
		}
		if j, ok := obj.(*batchv1.Job); ok {
			d.jobs[j.Name] = j
		}
		// Round trip: the decoded object serialises to the same document.
		again, err := marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != doc+"\n" && string(again) != doc {
			t.Errorf("%s does not round-trip:\n%s\n---- vs ----\n%s", tm.Kind, doc, again)
		}
	}
	return d
}

// expand does what the kubelet does with $(VAR) in command and args.
func expand(args []string, vars map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		for k, v := range vars {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		out[i] = a
	}
	return out
}

func TestManifestsRoundTrip(t *testing.T) {
	o := testOptions()
	y, err := Manifests(o)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeStrict(t, y)
	names := o.Names()
	if d.docs != 5 || d.cm == nil || d.pvc == nil || d.pod == nil || len(d.jobs) != 2 {
		t.Fatalf("stream has %d documents: cm=%v pvc=%v pod=%v jobs=%d", d.docs, d.cm != nil, d.pvc != nil, d.pod != nil, len(d.jobs))
	}
	for _, meta := range []metav1.ObjectMeta{d.cm.ObjectMeta, d.pvc.ObjectMeta, d.pod.ObjectMeta, d.jobs[names.ShardJob].ObjectMeta, d.jobs[names.MergeJob].ObjectMeta} {
		if meta.Namespace != "load-test" || meta.Labels[LabelInstance] != "capacity" || !strings.HasPrefix(meta.Name, "capacity-") {
			t.Errorf("metadata %+v", meta)
		}
	}

	// ConfigMap: the command lines, nothing else.
	if d.cm.Name != names.ConfigMap || len(d.cm.Data) != 2 || d.cm.Data["load-command"] != shellQuote(o.LoadCommand()) ||
		d.cm.Data["merge-command"] != shellQuote(o.MergeCommand()) || !strings.Contains(d.cm.Data["load-command"], "--sessions 2000") {
		t.Errorf("config map %+v", d.cm.Data)
	}

	// The shared volume.
	if !slices.Equal(d.pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}) ||
		d.pvc.Spec.Resources.Requests.Storage().String() != "2Gi" || d.pvc.Spec.StorageClassName == nil || *d.pvc.Spec.StorageClassName != "nfs-client" {
		t.Errorf("pvc spec %+v", d.pvc.Spec)
	}

	// The Indexed Job.
	shards := d.jobs[names.ShardJob]
	if shards == nil {
		t.Fatalf("no job %s", names.ShardJob)
	}
	s := shards.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 4 || *s.Parallelism != 4 ||
		*s.BackoffLimit != 0 || s.Suspend != nil || *s.ActiveDeadlineSeconds != 7200 {
		t.Errorf("shard job spec: mode %v completions %v parallelism %v backoff %v suspend %v deadline %v",
			*s.CompletionMode, *s.Completions, *s.Parallelism, *s.BackoffLimit, s.Suspend, *s.ActiveDeadlineSeconds)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || len(pod.Containers) != 1 {
		t.Fatalf("shard pod: %+v", pod)
	}
	c := pod.Containers[0]
	if c.Image != o.Image || !slices.Equal(c.Command, []string{"reactor-harness"}) {
		t.Errorf("shard container image %q command %q", c.Image, c.Command)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if e := env["JOB_COMPLETION_INDEX"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
		e.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("JOB_COMPLETION_INDEX = %+v", e)
	}
	if e := env["REACTOR_API_KEY"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
		e.ValueFrom.SecretKeyRef.Name != "reactor-api-key" || e.ValueFrom.SecretKeyRef.Key != "api-key" {
		t.Errorf("REACTOR_API_KEY = %+v", e)
	}
	// Pod 2 of 4, as the kubelet expands it.
	got := expand(c.Args, map[string]string{"JOB_COMPLETION_INDEX": "2"})
	want := []string{"load", "--target", "https://api.reactor.example", "--shard", "2/4", "--out", "/results/shard-2",
		"--sessions", "2000", "--duration", "10m", "--warmup", "30s"}
	if !slices.Equal(got, want) {
		t.Errorf("shard 2 args\n got %q\nwant %q", got, want)
	}
	if c.Resources.Requests.Cpu().String() != "2" || c.Resources.Limits.Memory().String() != "3Gi" {
		t.Errorf("resources %+v", c.Resources)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	vols := map[string]corev1.VolumeSource{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v.VolumeSource
	}
	if len(mounts) != 1 || len(vols) != 1 || mounts["results"] != "/results" || vols["results"].PersistentVolumeClaim == nil ||
		vols["results"].PersistentVolumeClaim.ClaimName != names.PVC {
		t.Errorf("mounts %v volumes %+v", mounts, vols)
	}
	if pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil {
		t.Error("shards have no anti-affinity")
	}

	// The merge Job: suspended, every shard folder listed.
	merge := d.jobs[names.MergeJob]
	if merge == nil || merge.Spec.Suspend == nil || !*merge.Spec.Suspend || merge.Spec.CompletionMode != nil {
		t.Fatalf("merge job %+v", merge)
	}
	mc := merge.Spec.Template.Spec.Containers[0]
	wantMerge := []string{"merge", "--out", "/results/merged", "--threshold", "frame_latency.p99<120ms",
		"/results/shard-0", "/results/shard-1", "/results/shard-2", "/results/shard-3"}
	if !slices.Equal(mc.Args, wantMerge) || mc.Image != o.Image {
		t.Errorf("merge args %q", mc.Args)
	}
	// Each folder a shard writes is one the merge reads.
	for i := range 4 {
		out := expand(c.Args, map[string]string{"JOB_COMPLETION_INDEX": string(rune('0' + i))})
		if !slices.Contains(mc.Args, out[slices.Index(out, "--out")+1]) {
			t.Errorf("shard %d writes %s, which the merge does not read", i, out[slices.Index(out, "--out")+1])
		}
	}

	// The results pod: read-only volume, ready when the merge is done.
	rp := d.pod.Spec.Containers[0]
	if d.pod.Name != names.ResultsPod || !rp.VolumeMounts[0].ReadOnly || rp.ReadinessProbe == nil ||
		!slices.Equal(rp.ReadinessProbe.Exec.Command, []string{"test", "-s", "/results/merged/summary.json"}) {
		t.Errorf("results pod %+v", d.pod.Spec)
	}

	// Secrets never in arguments; the header names the commands.
	if bytes.Contains(y, []byte("--api-key")) {
		t.Error("an API key flag in the manifest")
	}
	for _, want := range []string{"kubectl -n load-test apply", "wait --for=condition=complete", "patch job/capacity-merge", "cp capacity-results:/results/merged", "synchronised clocks"} {
		if !strings.Contains(d.header, want) {
			t.Errorf("header lacks %q:\n%s", want, d.header)
		}
	}
}

func TestManifestsMinimal(t *testing.T) {
	o := Options{Image: "rh:1", Shards: 1, Target: "http://reactor.internal:8080", ExistingPVC: true, ResultsPVC: "shared", FetchImage: "-"}
	y, err := Manifests(o)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeStrict(t, y)
	if d.docs != 3 || d.pvc != nil || d.pod != nil {
		t.Fatalf("%d documents, pvc %v, pod %v", d.docs, d.pvc != nil, d.pod != nil)
	}
	j := d.jobs["reactor-load-shards"]
	c := j.Spec.Template.Spec.Containers[0]
	if j.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "shared" || len(c.Env) != 1 ||
		c.Resources.Requests != nil || j.Spec.ActiveDeadlineSeconds != nil || j.Namespace != "" {
		t.Errorf("minimal job %+v", j)
	}
	if len(d.cm.Data) != 2 || strings.Contains(d.header, "kubectl cp") {
		t.Errorf("minimal: %v\n%s", d.cm.Data, d.header)
	}
}

// With a metrics port every shard serves --metrics-listen on it, exposes
// it as a named container port, and its pods carry the scrape annotations.
func TestManifestsMetricsPort(t *testing.T) {
	o := testOptions()
	o.MetricsPort = 9464
	y, err := Manifests(o)
	if err != nil {
		t.Fatal(err)
	}
	j := decodeStrict(t, y).jobs["capacity-shards"]
	c := j.Spec.Template.Spec.Containers[0]
	if !strings.Contains(strings.Join(c.Args, " "), "--metrics-listen :9464") {
		t.Errorf("args %q lack --metrics-listen", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || c.Ports[0].ContainerPort != 9464 {
		t.Errorf("ports %+v", c.Ports)
	}
	a := j.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "9464" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations %v", a)
	}
	o.MetricsPort = 0
	y, _ = Manifests(o)
	if j := decodeStrict(t, y).jobs["capacity-shards"]; len(j.Spec.Template.Annotations) != 0 ||
		strings.Contains(strings.Join(j.Spec.Template.Spec.Containers[0].Args, " "), "metrics") {
		t.Errorf("no metrics port, yet %v %q", j.Spec.Template.Annotations, j.Spec.Template.Spec.Containers[0].Args)
	}
}

func TestManifestsValidation(t *testing.T) {
	for name, mutate := range map[string]func(*Options){
		"no image":          func(o *Options) { o.Image = "" },
		"no shards":         func(o *Options) { o.Shards = 0 },
		"too many shards":   func(o *Options) { o.Shards = MaxShards + 1 },
		"no target":         func(o *Options) { o.Target = "" },
		"target not http":   func(o *Options) { o.Target = "ftp://x" },
		"bad name":          func(o *Options) { o.Name = "Capacity_Run" },
		"long name":         func(o *Options) { o.Name = strings.Repeat("a", 41) },
		"bad namespace":     func(o *Options) { o.Namespace = "x/y" },
		"shard in args":     func(o *Options) { o.LoadArgs = []string{"--shard=1/2"} },
		"out in args":       func(o *Options) { o.LoadArgs = []string{"--out", "/tmp"} },
		"api key in args":   func(o *Options) { o.LoadArgs = []string{"--api-key", "rk_live"} },
		"out in merge args": func(o *Options) { o.MergeArgs = []string{"-out=/x"} },
		"bad memory":        func(o *Options) { o.Memory = "lots" },
		"bad storage":       func(o *Options) { o.StorageSize = "1 GB" },
		"bad secret":        func(o *Options) { o.APIKeySecret = "Not A Name" },
		"scenario in args":  func(o *Options) { o.LoadArgs = []string{"--sessions", "10", "--scenario", "s.yaml"} },
		"scenario= in args": func(o *Options) { o.LoadArgs = []string{"-scenario=s.yaml"} },
		"negative deadline": func(o *Options) { o.ActiveDeadline = -time.Second },
		"bad metrics port":  func(o *Options) { o.MetricsPort = 70000 },
		"metrics in args":   func(o *Options) { o.LoadArgs = []string{"--metrics-listen=:9464"} },
	} {
		o := testOptions()
		mutate(&o)
		if _, err := Manifests(o); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "k8s: ") {
			t.Errorf("%s: error %q", name, err)
		}
	}
}

// A scenario among the load arguments is refused with the reason, not
// passed to shards that would ignore it.
func TestManifestsRejectScenario(t *testing.T) {
	o := testOptions()
	o.LoadArgs = append(o.LoadArgs, "--scenario", "slow.yaml")
	if _, err := Manifests(o); err == nil || !strings.Contains(err.Error(), `"--scenario"`) ||
		!strings.Contains(err.Error(), "a shard always has a real target") {
		t.Errorf("error %v", err)
	}
	// A value that merely looks like the flag is not refused.
	o.LoadArgs = []string{"--model", "scenario"}
	if _, err := Manifests(o); err != nil {
		t.Error(err)
	}
}

func TestCommandsAndQuoting(t *testing.T) {
	o := testOptions()
	o.Command = []string{"/usr/local/bin/reactor-harness"}
	objs, err := Objects(o)
	if err != nil {
		t.Fatal(err)
	}
	var shard *batchv1.Job
	for _, obj := range objs {
		if j, ok := obj.(*batchv1.Job); ok && j.Name == o.Names().ShardJob {
			shard = j
		}
	}
	c := shard.Spec.Template.Spec.Containers[0]
	if !reflect.DeepEqual(append(c.Command, c.Args...), o.LoadCommand()) || c.Command[0] != "/usr/local/bin/reactor-harness" {
		t.Errorf("command %q args %q", c.Command, c.Args)
	}
	if got := shellQuote([]string{"a", "b c", "it's", "x<1", ""}); got != `a 'b c' 'it'\''s' 'x<1' ''` {
		t.Errorf("shellQuote = %s", got)
	}
}

// The strict decoder used above does reject what the API does not know.
func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	y, err := Manifests(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Split(string(y), "\n---\n")[3] // the shard Job
	bad := strings.Replace(doc, "\nspec:\n", "\nspec:\n  parallelsim: 4\n", 1)
	if bad == doc {
		t.Fatal("no spec in the shard job")
	}
	if err := yaml.UnmarshalStrict([]byte(bad), &batchv1.Job{}); err == nil {
		t.Error("a misspelt field was accepted")
	}
	if err := yaml.UnmarshalStrict([]byte(doc), &batchv1.Job{}); err != nil {
		t.Error(err)
	}
}
