// Package k8s writes the Kubernetes objects of a distributed load run: one
// `reactor-harness load` shard per pod of an Indexed Job, results on a
// shared ReadWriteMany volume, and a merge Job that combines the shards by
// histogram. Objects are built from the official API types (k8s.io/api)
// and serialised with sigs.k8s.io/yaml, so a field the API does not know
// cannot be written by mistake; the package test decodes the YAML back
// into the same types with unknown fields forbidden.
//
// The stream, in apply order:
//
//  1. ConfigMap <name>-config: for the record, the exact load and merge
//     command lines.
//  2. PersistentVolumeClaim <name>-results (ReadWriteMany; omitted with
//     ExistingPVC): every shard writes /results/shard-<index>, the merge
//     writes /results/merged. ReadWriteMany needs a storage class that
//     offers it (NFS, CephFS, Amazon EFS, Google Filestore, Azure Files …).
//  3. Job <name>-shards: completionMode Indexed, completions = parallelism
//     = shards; pod i runs `reactor-harness load --shard i/n --out
//     /results/shard-i …` with i from JOB_COMPLETION_INDEX (which the Job
//     controller sets from the pod's completion-index annotation; the
//     manifest declares it too so that $(JOB_COMPLETION_INDEX) expands in
//     the arguments). backoffLimit is 0: a shard that fails invalidates
//     the run rather than being rerun with a shifted time window. Shards
//     prefer distinct nodes (pod anti-affinity), since the point is more
//     sessions than one machine can open.
//  4. Job <name>-merge, created suspended: once the shards are complete,
//     `kubectl patch job <name>-merge -p '{"spec":{"suspend":false}}'`
//     starts `reactor-harness merge --out /results/merged
//     /results/shard-0 … /results/shard-<n-1>` (the shard folders are listed,
//     as no shell expands a glob in a container's arguments). Its exit code
//     is the merged verdict: 0, or 99 when a threshold failed.
//  5. Pod <name>-results: a small container (busybox by default) that only
//     sleeps with the volume mounted read-only, so that `kubectl cp
//     <name>-results:/results/merged ./merged` works whatever the merge's
//     exit code (a finished pod cannot be copied from). It turns Ready when
//     /results/merged/summary.json exists: `kubectl wait
//     --for=condition=ready pod/<name>-results` is the end of the merge,
//     pass or fail. Omitted when FetchImage is "-".
//
// The API key never appears in arguments: it comes from a Secret as the
// REACTOR_API_KEY environment variable.
//
// Clocks: frame latency is measured from the capture time the target
// stamps on each frame to the arrival at the shard, so it is only as good
// as the agreement of the two clocks. Run the nodes with NTP/chrony (most
// managed clusters do); each shard reports its clock offset to the target,
// measured from data-channel round trips, in its summary (see
// docs/kubernetes.md).
package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Options describe a distributed load run.
type Options struct {
	// Name prefixes every object ("<name>-shards", …); a DNS-1123 label of
	// at most 40 characters. Default "reactor-load".
	Name string
	// Namespace of every object; empty leaves it to kubectl (-n or the
	// current context).
	Namespace string
	// Image holds the reactor-harness binary (required).
	Image string
	// Command is the binary's path in the image; default ["reactor-harness"].
	Command []string
	// Shards is the number of load pods (≥ 1).
	Shards int
	// Target is the base URL of the Reactor deployment under load
	// (required: a cluster run against the embedded mock measures nothing).
	Target string
	// APIKeySecret names a Secret in the namespace whose key APIKeySecretKey
	// (default "api-key") holds the API key, passed as REACTOR_API_KEY.
	APIKeySecret, APIKeySecretKey string
	// LoadArgs are further `load` arguments (--sessions, --rate,
	// --duration, --warmup, --model …); --shard, --out and --target are set
	// by the manifest, and --scenario is refused (it scripts only the
	// embedded mock, and a shard always has a real target). Give thresholds
	// to MergeArgs: a shard only sees its share of the load.
	LoadArgs []string
	// MergeArgs are further `merge` arguments (e.g. --threshold …).
	MergeArgs []string
	// ResultsPVC names the results volume claim; default "<name>-results".
	// With ExistingPVC the claim must exist and is not written.
	ResultsPVC  string
	ExistingPVC bool
	// StorageClass for the claim (one that offers ReadWriteMany); empty
	// uses the cluster default. StorageSize defaults to "1Gi" (a shard
	// writes a few MB per hour of run).
	StorageClass, StorageSize string
	// CPU and Memory are each shard's requests (Memory also its limit);
	// empty means none.
	CPU, Memory string
	// ActiveDeadline bounds the shard Job (0: no bound).
	ActiveDeadline time.Duration
	// MetricsPort, when set, makes every shard serve live Prometheus
	// metrics on that port (load --metrics-listen) and annotates the shard
	// pods with the prometheus.io/scrape convention, so a cluster's
	// Prometheus finds them without a ServiceMonitor.
	MetricsPort int
	// FetchImage runs the results pod; default "busybox:1.37"; "-" omits
	// the pod. FetchHold is how long it stays up (default 24 h).
	FetchImage string
	FetchHold  time.Duration
}

// Defaults.
const (
	DefaultName        = "reactor-load"
	DefaultFetchImage  = "busybox:1.37"
	DefaultFetchHold   = 24 * time.Hour
	DefaultStorageSize = "1Gi"
	DefaultSecretKey   = "api-key"

	// ResultsDir is where the results volume is mounted.
	ResultsDir = "/results"

	// MaxShards bounds Shards (an Indexed Job allows 100 000 completions;
	// a load run needs far fewer, and the merge lists every folder).
	MaxShards = 1000

	maxNameLen = 40 // leaves room for "-shards-<index>-<random>" in pod names
)

// Labels every object carries; Component is set per object.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
)

// completionIndexEnv is the variable the Job controller sets in each pod of
// an Indexed Job.
const completionIndexEnv = "JOB_COMPLETION_INDEX"

// Names returns the object names the manifest uses.
type Names struct {
	ConfigMap, PVC, ShardJob, MergeJob, ResultsPod string
}

// Names returns the names of the objects Manifests writes for o.
func (o Options) Names() Names {
	n := o.withDefaults()
	return Names{
		ConfigMap: n.Name + "-config", PVC: n.ResultsPVC, ShardJob: n.Name + "-shards",
		MergeJob: n.Name + "-merge", ResultsPod: n.Name + "-results",
	}
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if len(o.Command) == 0 {
		o.Command = []string{"reactor-harness"}
	}
	if o.APIKeySecretKey == "" {
		o.APIKeySecretKey = DefaultSecretKey
	}
	if o.ResultsPVC == "" {
		o.ResultsPVC = o.Name + "-results"
	}
	if o.StorageSize == "" {
		o.StorageSize = DefaultStorageSize
	}
	if o.FetchImage == "" {
		o.FetchImage = DefaultFetchImage
	}
	if o.FetchHold == 0 {
		o.FetchHold = DefaultFetchHold
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if msgs := validation.IsDNS1123Label(o.Name); len(msgs) > 0 {
		bad("name %q: %s", o.Name, strings.Join(msgs, "; "))
	} else if len(o.Name) > maxNameLen {
		bad("name %q: at most %d characters", o.Name, maxNameLen)
	}
	if o.Namespace != "" {
		if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
			bad("namespace %q: %s", o.Namespace, strings.Join(msgs, "; "))
		}
	}
	if strings.TrimSpace(o.Image) == "" {
		bad("an image is required (one that holds the reactor-harness binary)")
	}
	if o.Shards < 1 || o.Shards > MaxShards {
		bad("shards must be between 1 and %d, not %d", MaxShards, o.Shards)
	}
	if u, err := url.Parse(o.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("target %q: want the http(s) base URL of a Reactor deployment", o.Target)
	}
	if o.APIKeySecret != "" {
		if msgs := validation.IsDNS1123Subdomain(o.APIKeySecret); len(msgs) > 0 {
			bad("API key secret %q: %s", o.APIKeySecret, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsConfigMapKey(o.APIKeySecretKey); len(msgs) > 0 {
			bad("API key secret key %q: %s", o.APIKeySecretKey, strings.Join(msgs, "; "))
		}
	}
	if msgs := validation.IsDNS1123Subdomain(o.ResultsPVC); len(msgs) > 0 {
		bad("results PVC %q: %s", o.ResultsPVC, strings.Join(msgs, "; "))
	}
	for _, a := range o.LoadArgs {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case !strings.HasPrefix(a, "-"):
		case name == "shard" || name == "out" || name == "target" || name == "api-key":
			bad("load argument %q is set by the manifest (API key: use the Secret)", a)
		case name == "metrics-listen":
			bad("load argument %q: use --metrics-port, which also annotates the pods for scraping", a)
		case name == "scenario":
			bad("load argument %q: a shard always has a real target, and a scenario only scripts the embedded mock; "+
				"load it into the mock target instead (reactor-harness mock --scenario FILE, or PUT /__admin/scenario)", a)
		}
	}
	for _, a := range o.MergeArgs {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "out" {
			bad("merge argument %q is set by the manifest", a)
		}
	}
	for _, q := range []struct{ what, v string }{{"storage size", o.StorageSize}, {"cpu", o.CPU}, {"memory", o.Memory}} {
		if q.v == "" {
			continue
		}
		if _, err := resource.ParseQuantity(q.v); err != nil {
			bad("%s %q: %v", q.what, q.v, err)
		}
	}
	if o.MetricsPort < 0 || o.MetricsPort > 65535 {
		bad("metrics port %d: want 1–65535 (0: no metrics)", o.MetricsPort)
	}
	if o.ActiveDeadline < 0 {
		bad("active deadline must not be negative")
	}
	if o.FetchHold < 0 {
		bad("fetch hold must not be negative")
	}
	if len(errs) > 0 {
		return fmt.Errorf("k8s: %w", errors.Join(errs...))
	}
	return nil
}

// LoadCommand is the shard's command line ($(JOB_COMPLETION_INDEX) is
// expanded by the kubelet).
func (o Options) LoadCommand() []string {
	o = o.withDefaults()
	args := append([]string{}, o.Command...)
	args = append(args, "load",
		"--target", o.Target,
		"--shard", "$("+completionIndexEnv+")/"+strconv.Itoa(o.Shards),
		"--out", ResultsDir+"/shard-$("+completionIndexEnv+")")
	if o.MetricsPort > 0 {
		args = append(args, "--metrics-listen", ":"+strconv.Itoa(o.MetricsPort))
	}
	return append(args, o.LoadArgs...)
}

// MergeCommand is the merge Job's command line.
func (o Options) MergeCommand() []string {
	o = o.withDefaults()
	args := append([]string{}, o.Command...)
	args = append(args, "merge", "--out", ResultsDir+"/merged")
	args = append(args, o.MergeArgs...)
	for i := 0; i < o.Shards; i++ {
		args = append(args, ResultsDir+"/shard-"+strconv.Itoa(i))
	}
	return args
}

// Objects builds the objects of the run, in apply order.
func Objects(o Options) ([]any, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	names := o.Names()
	labels := func(component string) map[string]string {
		return map[string]string{
			LabelName: "reactor-harness", LabelInstance: o.Name, LabelComponent: component, LabelPartOf: "reactor-harness",
		}
	}
	meta := func(name, component string) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: name, Namespace: o.Namespace, Labels: labels(component),
			Annotations: map[string]string{"reactor-harness/generated-by": "reactor-harness k8s-manifest"},
		}
	}
	resultsVolume := corev1.Volume{Name: "results", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: o.ResultsPVC},
	}}
	resultsMount := corev1.VolumeMount{Name: "results", MountPath: ResultsDir}

	var objs []any

	// The ConfigMap is a record only; no pod mounts it.
	objs = append(objs, &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(names.ConfigMap, "config"),
		Data: map[string]string{
			"load-command":  shellQuote(o.LoadCommand()),
			"merge-command": shellQuote(o.MergeCommand()),
		},
	})

	if !o.ExistingPVC {
		pvc := &corev1.PersistentVolumeClaim{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
			ObjectMeta: meta(o.ResultsPVC, "results"),
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceStorage: resource.MustParse(o.StorageSize),
				}},
			},
		}
		if o.StorageClass != "" {
			pvc.Spec.StorageClassName = ptr(o.StorageClass)
		}
		objs = append(objs, pvc)
	}

	// The shards.
	env := []corev1.EnvVar{{
		Name: completionIndexEnv,
		ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']",
		}},
	}}
	if o.APIKeySecret != "" {
		env = append(env, corev1.EnvVar{Name: "REACTOR_API_KEY", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: o.APIKeySecret},
				Key:                  o.APIKeySecretKey,
			},
		}})
	}
	loadCmd := o.LoadCommand()
	shard := corev1.Container{
		Name: "load", Image: o.Image, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: loadCmd[:len(o.Command)], Args: loadCmd[len(o.Command):],
		Env:          env,
		VolumeMounts: []corev1.VolumeMount{resultsMount},
	}
	if o.CPU != "" || o.Memory != "" {
		shard.Resources.Requests = corev1.ResourceList{}
		if o.CPU != "" {
			shard.Resources.Requests[corev1.ResourceCPU] = resource.MustParse(o.CPU)
		}
		if o.Memory != "" {
			shard.Resources.Requests[corev1.ResourceMemory] = resource.MustParse(o.Memory)
			shard.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(o.Memory)}
		}
	}
	podMeta := metav1.ObjectMeta{Labels: labels("shard")}
	if o.MetricsPort > 0 {
		shard.Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: int32(o.MetricsPort), Protocol: corev1.ProtocolTCP}}
		podMeta.Annotations = map[string]string{"prometheus.io/scrape": "true",
			"prometheus.io/port": strconv.Itoa(o.MetricsPort), "prometheus.io/path": "/metrics"}
	}
	n := int32(o.Shards)
	shards := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta(names.ShardJob, "shard"),
		Spec: batchv1.JobSpec{
			CompletionMode: ptr(batchv1.IndexedCompletion),
			Completions:    ptr(n),
			Parallelism:    ptr(n),
			BackoffLimit:   ptr(int32(0)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMeta,
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					// SIGTERM makes the runner write what it measured.
					TerminationGracePeriodSeconds: ptr(int64(60)),
					Containers:                    []corev1.Container{shard},
					Volumes:                       []corev1.Volume{resultsVolume},
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
							Weight: 100,
							PodAffinityTerm: corev1.PodAffinityTerm{
								LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelInstance: o.Name, LabelComponent: "shard"}},
								TopologyKey:   "kubernetes.io/hostname",
							},
						}},
					}},
				},
			},
		},
	}
	if o.ActiveDeadline > 0 {
		shards.Spec.ActiveDeadlineSeconds = ptr(int64(o.ActiveDeadline.Seconds()))
	}
	objs = append(objs, shards)

	// The merge, suspended until the shards are complete.
	mergeCmd := o.MergeCommand()
	merge := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta(names.MergeJob, "merge"),
		Spec: batchv1.JobSpec{
			Suspend:      ptr(true),
			Completions:  ptr(int32(1)),
			Parallelism:  ptr(int32(1)),
			BackoffLimit: ptr(int32(0)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels("merge")},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: "merge", Image: o.Image, ImagePullPolicy: corev1.PullIfNotPresent,
						Command: mergeCmd[:len(o.Command)], Args: mergeCmd[len(o.Command):],
						VolumeMounts: []corev1.VolumeMount{resultsMount},
					}},
					Volumes: []corev1.Volume{resultsVolume},
				},
			},
		},
	}
	objs = append(objs, merge)

	if o.FetchImage != "-" {
		ro := resultsMount
		ro.ReadOnly = true
		objs = append(objs, &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: meta(names.ResultsPod, "results"),
			Spec: corev1.PodSpec{
				RestartPolicy:                 corev1.RestartPolicyNever,
				TerminationGracePeriodSeconds: ptr(int64(1)),
				Containers: []corev1.Container{{
					Name: "results", Image: o.FetchImage, ImagePullPolicy: corev1.PullIfNotPresent,
					Command:      []string{"sleep", strconv.FormatInt(int64(o.FetchHold.Seconds()), 10)},
					VolumeMounts: []corev1.VolumeMount{ro},
					// Ready once the merge has written its summary, so
					// that `kubectl wait --for=condition=ready` works
					// whatever the merge's exit code (99 when a threshold
					// failed makes the merge Job Failed, not Complete).
					ReadinessProbe: &corev1.Probe{
						ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
							Command: []string{"test", "-s", ResultsDir + "/merged/summary.json"},
						}},
						PeriodSeconds: 5,
					},
				}},
				Volumes: []corev1.Volume{resultsVolume},
			},
		})
	}
	return objs, nil
}

// Manifests returns the YAML stream of Objects, with a comment header
// giving the commands that run it.
func Manifests(o Options) ([]byte, error) {
	objs, err := Objects(o)
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	names := o.Names()
	ns := ""
	if o.Namespace != "" {
		ns = " -n " + o.Namespace
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Distributed reactor-harness load: %d shards against %s (generated by reactor-harness k8s-manifest).\n", o.Shards, o.Target)
	fmt.Fprintf(&b, "#   kubectl%s apply -f THIS_FILE\n", ns)
	fmt.Fprintf(&b, "#   kubectl%s wait --for=condition=complete --timeout=24h job/%s\n", ns, names.ShardJob)
	fmt.Fprintf(&b, "#   kubectl%s patch job/%s --type=merge -p '{\"spec\":{\"suspend\":false}}'\n", ns, names.MergeJob)
	if o.FetchImage != "-" {
		fmt.Fprintf(&b, "#   kubectl%s wait --for=condition=ready --timeout=30m pod/%s   # ready once %s/merged/summary.json exists\n", ns, names.ResultsPod, ResultsDir)
		fmt.Fprintf(&b, "#   kubectl%s cp %s:%s/merged ./merged && reactor-harness report --out report.html ./merged\n", ns, names.ResultsPod, ResultsDir)
	}
	fmt.Fprintf(&b, "# Frame latency across hosts needs synchronised clocks (NTP/chrony on every node); each shard reports its measured offset to the target.\n")
	for _, obj := range objs {
		y, err := marshal(obj)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}

// marshal serialises obj without the fields a client must not send (status,
// a null creationTimestamp), as kubectl create --dry-run=client -o yaml
// would show them.
func marshal(obj any) ([]byte, error) {
	j, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("k8s: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(j, &m); err != nil {
		return nil, fmt.Errorf("k8s: %w", err)
	}
	prune(m)
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("k8s: %w", err)
	}
	return out, nil
}

// prune removes empty status objects and null creationTimestamps anywhere.
func prune(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch {
			case k == "creationTimestamp" && x == nil:
				delete(v, k)
			case k == "status":
				if m, ok := x.(map[string]any); ok && len(m) == 0 {
					delete(v, k)
				}
			default:
				prune(x)
				if m, ok := x.(map[string]any); ok && len(m) == 0 && (k == "metadata" || k == "resources") {
					delete(v, k)
				}
			}
		}
	case []any:
		for _, x := range v {
			prune(x)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// shellQuote renders a command line for the ConfigMap record.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
