package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	katibcommon "github.com/kubeflow/katib/pkg/apis/controller/common/v1beta1"
	katib "github.com/kubeflow/katib/pkg/apis/controller/experiments/v1beta1"
	yamlv3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifestDirs are every directory whose *.yaml files are Kubernetes objects.
var manifestDirs = []string{"kubernetes", "katib"}

// newObject gives the upstream type for an apiVersion and kind; a kind missing here fails the test,
// so a new manifest cannot go unchecked.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	case "kubeflow.org/v1beta1 Experiment":
		return &katib.Experiment{}, nil
	}
	return nil, fmt.Errorf("no upstream type registered for apiVersion %q kind %q", apiVersion, kind)
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeManifests decodes each YAML document of data strictly, as the API server's strict field
// validation does: YAML to JSON as kubectl converts it (no target type, so an unquoted `on` is the bool
// true; duplicate keys fail), then JSON into the upstream type with Kubernetes' own decoder,
// sigs.k8s.io/json, which matches field names case-sensitively (encoding/json would take "targetport" for
// "targetPort") and reports unknown and duplicate fields. A Katib Experiment's trialSpec, which Katib
// declares as unstructured, is decoded strictly too, into the batch/v1 Job it must be.
func decodeManifests(name string, data []byte) ([]any, error) {
	var objs []any
	for i, doc := range docSeparator.Split(string(data), -1) {
		if isBlankYAML(doc) {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		obj, err := newObject(tm.APIVersion, tm.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("%s: document %d (%s): %w", name, i+1, tm.Kind, err)
		}
		if err := strictJSON(j, obj); err != nil {
			return nil, fmt.Errorf("%s: document %d (%s): %w", name, i+1, tm.Kind, err)
		}
		if e, ok := obj.(*katib.Experiment); ok {
			if _, err := trialJob(e); err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
			}
		}
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s: no Kubernetes object in it", name)
	}
	return objs, nil
}

func isBlankYAML(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// trialJob decodes an Experiment's trialSpec strictly into a batch/v1 Job.
func trialJob(e *katib.Experiment) (*batchv1.Job, error) {
	tt := e.Spec.TrialTemplate
	if tt == nil || tt.TrialSpec == nil {
		return nil, fmt.Errorf("experiment %s: no trialTemplate.trialSpec", e.Name)
	}
	if av, k := tt.TrialSpec.GetAPIVersion(), tt.TrialSpec.GetKind(); av != "batch/v1" || k != "Job" {
		return nil, fmt.Errorf("experiment %s: trialSpec is %s %s, want batch/v1 Job", e.Name, av, k)
	}
	raw, err := json.Marshal(tt.TrialSpec.Object)
	if err != nil {
		return nil, err
	}
	var job batchv1.Job
	if err := strictJSON(raw, &job); err != nil {
		return nil, fmt.Errorf("experiment %s: trialSpec: %w", e.Name, err)
	}
	return &job, nil
}

// strictJSON decodes data into v, failing on a syntax or type error and on any unknown or duplicate field.
func strictJSON(data []byte, v any) error {
	strict, err := sigsjson.UnmarshalStrict(data, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// loadAll decodes every manifest file, keyed by "dir/file".
func loadAll(t *testing.T) map[string][]any {
	t.Helper()
	all := map[string][]any{}
	for _, dir := range manifestDirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no manifests in %s/", dir)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeManifests(f, data)
			if err != nil {
				t.Fatal(err)
			}
			all[filepath.ToSlash(f)] = objs
		}
	}
	return all
}

// only returns the single object of type T in file, failing otherwise.
func only[T any](t *testing.T, all map[string][]any, file string) T {
	t.Helper()
	var found []T
	for _, o := range all[file] {
		if x, ok := o.(T); ok {
			found = append(found, x)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%s: %d objects of type %T, want 1", file, len(found), zero)
	}
	return found[0]
}

// flagValue is the value after flag in argv ("" and false when absent).
func flagValue(argv []string, flag string) (string, bool) {
	for i, a := range argv {
		if a == flag && i+1 < len(argv) {
			return argv[i+1], true
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
	}
	return "", false
}

func mustFlag(t *testing.T, what string, argv []string, flag string) string {
	t.Helper()
	v, ok := flagValue(argv, flag)
	if !ok {
		t.Fatalf("%s: command %q has no %s", what, argv, flag)
	}
	return v
}

func argv(c corev1.Container) []string { return append(slices.Clone(c.Command), c.Args...) }

func container(t *testing.T, what string, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s: no container %q", what, name)
	return corev1.Container{}
}

// mountedVolume is the pod volume mounted at dir in c.
func mountedVolume(t *testing.T, what string, spec corev1.PodSpec, c corev1.Container, dir string) corev1.Volume {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) != path.Clean(dir) {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name {
				return v
			}
		}
		t.Fatalf("%s: mount %s names volume %q, which the pod lacks", what, dir, m.Name)
	}
	t.Fatalf("%s: container %s mounts nothing at %s (mounts %+v)", what, c.Name, dir, c.VolumeMounts)
	return corev1.Volume{}
}

func gpuLimit(t *testing.T, what string, c corev1.Container) {
	t.Helper()
	q, ok := c.Resources.Limits["nvidia.com/gpu"]
	if !ok || q.Value() != 1 {
		t.Errorf("%s: container %s: nvidia.com/gpu limit %v (set %v), want 1", what, c.Name, q.String(), ok)
	}
}

func TestManifestsDecodeStrictly(t *testing.T) {
	all := loadAll(t)
	var names []string
	for f, objs := range all {
		for _, o := range objs {
			names = append(names, fmt.Sprintf("%s:%T", f, o))
		}
	}
	sort.Strings(names)
	t.Logf("decoded strictly: %s", strings.Join(names, ", "))
}

// A misspelt or unknown field, a duplicate key, a wrong type or an unknown kind must fail, at any depth
// (Katib's trialSpec included): otherwise the strict decoding above proves nothing.
func TestManifestsRejectMistakes(t *testing.T) {
	cases := []struct {
		name, file, old, new, wantErr string
	}{
		{"misspelt Job spec field", "kubernetes/sweep-job.yaml", "  completionMode: Indexed", "  completionMod: Indexed", "completionMod"},
		{"misspelt container field", "kubernetes/sweep-job.yaml", "          volumeMounts:", "          volumeMount:", "volumeMount"},
		{"unknown top-level field", "kubernetes/logs-pvc.yaml", "spec:\n", "spec:\n  replicas: 3\n", "replicas"},
		{"misspelt Service field", "kubernetes/tensorboard.yaml", "      targetPort: http", "      targetport: http", "targetport"},
		{"wrong type", "kubernetes/sweep-job.yaml", "  completions: 4", "  completions: four", "completions"},
		{"duplicate key", "kubernetes/report-job.yaml", "  backoffLimit: 2", "  backoffLimit: 2\n  backoffLimit: 3", "backoffLimit"},
		{"unknown kind", "kubernetes/logs-pvc.yaml", "kind: PersistentVolumeClaim", "kind: PersistentVolumeClaimX", "PersistentVolumeClaimX"},
		{"misspelt Katib field", "katib/experiment.yaml", "    objectiveMetricName:", "    objectiveMetric:", "objectiveMetric"},
		{"unquoted on in a Katib list", "katib/experiment.yaml", `list: ["off", "on"]`, `list: [off, on]`, "list"},
		{"misspelt field inside Katib's trialSpec", "katib/experiment.yaml", "            restartPolicy: Never", "            restartPolicyy: Never", "restartPolicyy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := decodeManifests(tc.file, data); err != nil {
				t.Fatalf("the unchanged manifest already fails: %v", err)
			}
			if bytes.Count(data, []byte(tc.old)) != 1 {
				t.Fatalf("%s: %q occurs %d times, want once", tc.file, tc.old, bytes.Count(data, []byte(tc.old)))
			}
			bad := bytes.Replace(data, []byte(tc.old), []byte(tc.new), 1)
			_, err = decodeManifests(tc.file, bad)
			if err == nil {
				t.Fatalf("%s with %q decoded without error", tc.file, tc.new)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not name %q", err, tc.wantErr)
			}
		})
	}
}

func TestKubernetesIndexedJob(t *testing.T) {
	all := loadAll(t)
	job := only[*batchv1.Job](t, all, "kubernetes/sweep-job.yaml")
	pvc := only[*corev1.PersistentVolumeClaim](t, all, "kubernetes/logs-pvc.yaml")
	cm := only[*corev1.ConfigMap](t, all, "kubernetes/sweep-configmap.yaml")
	what := "sweep-job.yaml"
	s := job.Spec

	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("%s: completionMode %v, want Indexed", what, s.CompletionMode)
	}
	if s.Completions == nil || *s.Completions < 1 {
		t.Fatalf("%s: completions %v", what, s.Completions)
	}
	if s.Parallelism == nil || *s.Parallelism < 1 || *s.Parallelism > *s.Completions {
		t.Errorf("%s: parallelism %v, want 1..completions (%d)", what, s.Parallelism, *s.Completions)
	}
	if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
		t.Errorf("%s: backoffLimitPerIndex %v, want at least 1 retry per index", what, s.BackoffLimitPerIndex)
	}
	// Kubernetes requires restartPolicy Never for backoffLimitPerIndex and podFailurePolicy.
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q, want Never", what, pod.RestartPolicy)
	}
	c := container(t, what, pod, "tfsweep")
	if c.Image != "tfsweep:latest" {
		t.Errorf("%s: image %q, want tfsweep:latest", what, c.Image)
	}
	cmd := argv(c)
	if len(cmd) < 2 || cmd[0] != "tfsweep" || cmd[1] != "run" {
		t.Fatalf("%s: command %q, want tfsweep run ...", what, cmd)
	}
	if v := mustFlag(t, what, cmd, "--shard"); v != "auto" {
		t.Errorf("%s: --shard %q, want auto (JOB_COMPLETION_INDEX)", what, v)
	}
	shards, err := strconv.Atoi(mustFlag(t, what, cmd, "--shards"))
	if err != nil || int32(shards) != *s.Completions {
		t.Errorf("%s: --shards %q does not equal completions %d", what, mustFlag(t, what, cmd, "--shards"), *s.Completions)
	}
	if mustFlag(t, what, cmd, "--name") == "" {
		t.Errorf("%s: empty --name", what)
	}
	gpuLimit(t, what, c)
	for _, r := range s.PodFailurePolicy.Rules {
		if r.OnExitCodes != nil && r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName != c.Name {
			t.Errorf("%s: podFailurePolicy names container %q, not %q", what, *r.OnExitCodes.ContainerName, c.Name)
		}
	}

	// The logdir is the shared ReadWriteMany claim.
	logdir := mustFlag(t, what, cmd, "--logdir")
	v := mountedVolume(t, what, pod, c, logdir)
	if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("%s: %s is volume %+v, want the claim %s", what, logdir, v.VolumeSource, pvc.Name)
	}
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("logs-pvc.yaml: access modes %v, want ReadWriteMany (shards run on several nodes)", pvc.Spec.AccessModes)
	}

	// The sweep file comes from the ConfigMap, and it is a sweep file tfsweep's own tests use.
	config := mustFlag(t, what, cmd, "--config")
	cv := mountedVolume(t, what, pod, c, path.Dir(config))
	if cv.ConfigMap == nil || cv.ConfigMap.Name != cm.Name {
		t.Fatalf("%s: %s is volume %+v, want the ConfigMap %s", what, path.Dir(config), cv.VolumeSource, cm.Name)
	}
	sweep, ok := cm.Data[path.Base(config)]
	if !ok {
		t.Fatalf("sweep-configmap.yaml has no key %q (keys %v)", path.Base(config), cm.Data)
	}
	var got, want any
	if err := yamlv3.Unmarshal([]byte(sweep), &got); err != nil {
		t.Fatalf("sweep-configmap.yaml: %s: %v", path.Base(config), err)
	}
	ref, err := os.ReadFile(filepath.Join("..", "sweep", "presets", "lab-report.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yamlv3.Unmarshal(ref, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the ConfigMap's sweep file differs from sweep/presets/lab-report.yaml:\n%v\n%v", got, want)
	}

	// --data-dir must be where the image (the repository's Dockerfile) installs MNIST.
	dockerfile, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if dd := mustFlag(t, what, cmd, "--data-dir"); !strings.Contains(string(dockerfile), "setup-data.sh "+dd) {
		t.Errorf("%s: --data-dir %s is not where the Dockerfile puts MNIST", what, dd)
	}
}

func TestKubernetesTensorBoardAndReport(t *testing.T) {
	all := loadAll(t)
	job := only[*batchv1.Job](t, all, "kubernetes/sweep-job.yaml")
	pvc := only[*corev1.PersistentVolumeClaim](t, all, "kubernetes/logs-pvc.yaml")
	sweepCmd := argv(container(t, "sweep-job.yaml", job.Spec.Template.Spec, "tfsweep"))
	logdir := mustFlag(t, "sweep-job.yaml", sweepCmd, "--logdir")
	name := mustFlag(t, "sweep-job.yaml", sweepCmd, "--name")

	// TensorBoard reads the same claim at its --logdir, served by the Service.
	dep := only[*appsv1.Deployment](t, all, "kubernetes/tensorboard.yaml")
	svc := only[*corev1.Service](t, all, "kubernetes/tensorboard.yaml")
	pod := dep.Spec.Template
	tb := container(t, "tensorboard.yaml", pod.Spec, "tensorboard")
	tbCmd := argv(tb)
	if len(tbCmd) == 0 || tbCmd[0] != "tensorboard" || !slices.Contains(tbCmd, "--bind_all") {
		t.Errorf("tensorboard.yaml: command %q, want tensorboard ... --bind_all", tbCmd)
	}
	tbLogdir := mustFlag(t, "tensorboard.yaml", tbCmd, "--logdir")
	if v := mountedVolume(t, "tensorboard.yaml", pod.Spec, tb, tbLogdir); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("tensorboard.yaml: %s is volume %+v, want the claim %s", tbLogdir, v.VolumeSource, pvc.Name)
	}
	sel, err := metav1.LabelSelectorAsMap(dep.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range sel {
		if pod.Labels[k] != v {
			t.Errorf("tensorboard.yaml: the Deployment's selector %s=%s does not match its pods (%v)", k, v, pod.Labels)
		}
	}
	if len(svc.Spec.Selector) == 0 {
		t.Error("tensorboard.yaml: the Service selects no pods")
	}
	for k, v := range svc.Spec.Selector {
		if pod.Labels[k] != v {
			t.Errorf("tensorboard.yaml: the Service's selector %s=%s does not match the TensorBoard pods (%v)", k, v, pod.Labels)
		}
	}
	port := mustFlag(t, "tensorboard.yaml", tbCmd, "--port")
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("tensorboard.yaml: Service ports %v, want one", svc.Spec.Ports)
	}
	tp := svc.Spec.Ports[0].TargetPort
	var served bool
	for _, p := range tb.Ports {
		if (tp.StrVal != "" && tp.StrVal == p.Name || tp.IntVal == p.ContainerPort) && strconv.Itoa(int(p.ContainerPort)) == port {
			served = true
		}
	}
	if !served {
		t.Errorf("tensorboard.yaml: the Service's targetPort %s is not TensorBoard's --port %s (container ports %v)", tp.String(), port, tb.Ports)
	}

	// The report Job reports on the sweep directory the Indexed Job writes, on the same claim.
	rep := only[*batchv1.Job](t, all, "kubernetes/report-job.yaml")
	rc := container(t, "report-job.yaml", rep.Spec.Template.Spec, "tfsweep")
	wantCmd := []string{"tfsweep", "report", path.Join(logdir, name)}
	if got := argv(rc); !slices.Equal(got, wantCmd) {
		t.Errorf("report-job.yaml: command %q, want %q", got, wantCmd)
	}
	if v := mountedVolume(t, "report-job.yaml", rep.Spec.Template.Spec, rc, logdir); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("report-job.yaml: %s is volume %+v, want the claim %s", logdir, v.VolumeSource, pvc.Name)
	}
	if rep.Spec.CompletionMode != nil && *rep.Spec.CompletionMode == batchv1.IndexedCompletion {
		t.Error("report-job.yaml: the report is one pod, not an Indexed Job")
	}
}

var trialParamRef = regexp.MustCompile(`\$\{trialParameters\.([^}]+)\}`)

func TestKatibExperiment(t *testing.T) {
	all := loadAll(t)
	e := only[*katib.Experiment](t, all, "katib/experiment.yaml")
	what := "experiment.yaml"
	s := e.Spec

	if s.Objective == nil || s.Objective.Type != katibcommon.ObjectiveTypeMinimize || s.Objective.ObjectiveMetricName != "validation/epoch_loss" {
		t.Fatalf("%s: objective %+v, want minimize validation/epoch_loss", what, s.Objective)
	}
	mc := s.MetricsCollectorSpec
	if mc == nil || mc.Collector == nil || mc.Collector.Kind != katibcommon.TfEventCollector {
		t.Fatalf("%s: metricsCollectorSpec %+v, want collector kind TensorFlowEvent", what, mc)
	}
	if mc.Source == nil || mc.Source.FileSystemPath == nil || mc.Source.FileSystemPath.Kind != katibcommon.DirectoryKind {
		t.Fatalf("%s: metricsCollectorSpec.source %+v, want a fileSystemPath of kind Directory", what, mc.Source)
	}
	// Katib's collector matches "dir/tag": the tag's prefix in event files whose directory ends in dir.
	// tfsweep writes epoch_loss and epoch_accuracy under <run>/train and <run>/validation.
	for _, m := range append([]string{s.Objective.ObjectiveMetricName}, s.Objective.AdditionalMetricNames...) {
		dir, tag, ok := strings.Cut(m, "/")
		if !ok || (dir != "train" && dir != "validation") || (tag != "epoch_loss" && tag != "epoch_accuracy") {
			t.Errorf("%s: metric %q is not one tfsweep writes (train|validation)/(epoch_loss|epoch_accuracy)", what, m)
		}
	}
	for _, ms := range s.Objective.MetricStrategies {
		if ms.Value != katibcommon.ExtractByMin && ms.Value != katibcommon.ExtractByMax && ms.Value != katibcommon.ExtractByLatest {
			t.Errorf("%s: metric strategy %+v: value must be min, max or latest", what, ms)
		}
	}

	job, err := trialJob(e)
	if err != nil {
		t.Fatal(err)
	}
	tt := s.TrialTemplate
	pod := job.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: trial restartPolicy %q, want Never", what, pod.RestartPolicy)
	}
	c := container(t, what, pod, tt.PrimaryContainerName)
	cmd := argv(c)
	if len(cmd) < 2 || cmd[0] != "tfsweep" || cmd[1] != "run" {
		t.Fatalf("%s: trial command %q, want tfsweep run ...", what, cmd)
	}
	if got := mustFlag(t, what, cmd, "--logdir"); path.Clean(got) != path.Clean(mc.Source.FileSystemPath.Path) {
		t.Errorf("%s: the trial writes into --logdir %s but the collector reads %s", what, got, mc.Source.FileSystemPath.Path)
	}
	gpuLimit(t, what, c)
	// Katib joins the command with spaces into `sh -c`: no argument may need quoting.
	for _, a := range cmd {
		if strings.ContainsAny(a, " \t\n'\"\\;&|<>()`*?") {
			t.Errorf("%s: trial argument %q would be split or interpreted by Katib's sh -c wrapper", what, a)
		}
	}

	// Every ${trialParameters.X} is declared, every declared one is used, and each refers to a parameter.
	params := map[string]katib.ParameterSpec{}
	for _, p := range s.Parameters {
		params[p.Name] = p
	}
	declared := map[string]string{}
	for _, tp := range tt.TrialParameters {
		declared[tp.Name] = tp.Reference
		if _, ok := params[tp.Reference]; !ok {
			t.Errorf("%s: trial parameter %s refers to %q, which is no parameter", what, tp.Name, tp.Reference)
		}
	}
	used := map[string]bool{}
	for _, a := range cmd {
		for _, m := range trialParamRef.FindAllStringSubmatch(a, -1) {
			used[m[1]] = true
			if _, ok := declared[m[1]]; !ok {
				t.Errorf("%s: the command uses ${trialParameters.%s}, which trialParameters does not declare", what, m[1])
			}
		}
	}
	for name := range declared {
		if !used[name] {
			t.Errorf("%s: trial parameter %s is declared but the command never uses it", what, name)
		}
	}
	for _, p := range s.Parameters {
		fs := p.FeasibleSpace
		switch p.ParameterType {
		case katib.ParameterTypeDouble, katib.ParameterTypeInt:
			lo, err1 := strconv.ParseFloat(fs.Min, 64)
			hi, err2 := strconv.ParseFloat(fs.Max, 64)
			if err1 != nil || err2 != nil || lo >= hi {
				t.Errorf("%s: parameter %s: feasible space [%q, %q] is no range", what, p.Name, fs.Min, fs.Max)
			}
		case katib.ParameterTypeDiscrete, katib.ParameterTypeCategorical:
			if len(fs.List) == 0 {
				t.Errorf("%s: parameter %s: empty list", what, p.Name)
			}
		default:
			t.Errorf("%s: parameter %s: type %q", what, p.Name, p.ParameterType)
		}
	}
}
