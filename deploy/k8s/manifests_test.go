package k8s

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// manifests are the objects of vproc.yaml, decoded strictly: an unknown or
// misspelt field, or a duplicate one, is an error.
type manifests struct {
	configMaps map[string]*corev1.ConfigMap
	services   map[string]*corev1.Service
	sets       map[string]*appsv1.StatefulSet
	pdbs       map[string]*policyv1.PodDisruptionBudget
}

func load(t *testing.T, path string) *manifests {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifests{
		configMaps: map[string]*corev1.ConfigMap{},
		services:   map[string]*corev1.Service{},
		sets:       map[string]*appsv1.StatefulSet{},
		pdbs:       map[string]*policyv1.PodDisruptionBudget{},
	}
	docs := regexp.MustCompile(`(?m)^---\s*$`).Split(string(src), -1)
	for i, doc := range docs {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		var obj interface{ GetName() string }
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "apps/v1 StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "policy/v1 PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		default:
			t.Fatalf("%s: document %d: unexpected %s %s", path, i, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s: document %d (%s): %v", path, i, tm.Kind, err)
		}
		name := obj.GetName()
		if name == "" {
			t.Fatalf("%s: document %d (%s) has no name", path, i, tm.Kind)
		}
		var dup bool
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			_, dup = m.configMaps[name]
			m.configMaps[name] = o
		case *corev1.Service:
			_, dup = m.services[name]
			m.services[name] = o
		case *appsv1.StatefulSet:
			_, dup = m.sets[name]
			m.sets[name] = o
		case *policyv1.PodDisruptionBudget:
			_, dup = m.pdbs[name]
			m.pdbs[name] = o
		}
		if dup {
			t.Fatalf("%s: two %s objects named %q", path, tm.Kind, name)
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestManifests(t *testing.T) {
	m := load(t, "vproc.yaml")
	if len(m.sets) != 1 || len(m.pdbs) != 1 || len(m.services) != 2 || len(m.configMaps) != 1 {
		t.Fatalf("got %d StatefulSets, %d PodDisruptionBudgets, %d Services, %d ConfigMaps; want 1, 1, 2, 1",
			len(m.sets), len(m.pdbs), len(m.services), len(m.configMaps))
	}
	sts := m.sets["vproc"]
	if sts == nil {
		t.Fatal("no StatefulSet vproc")
	}
	spec := sts.Spec
	pod := spec.Template.Spec

	// Three replicas that start together, replaced only when deleted.
	if spec.Replicas == nil || *spec.Replicas != 3 {
		t.Errorf("replicas: got %v, want 3", spec.Replicas)
	}
	replicas := int(*spec.Replicas)
	if spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy: got %q, want Parallel (readiness needs a leader, a leader needs the pods)", spec.PodManagementPolicy)
	}
	if spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType {
		t.Errorf("updateStrategy: got %q, want OnDelete", spec.UpdateStrategy.Type)
	}
	sel, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(spec.Template.Labels)) {
		t.Fatalf("StatefulSet selector %v (%v) does not select its pods %v", spec.Selector, err, spec.Template.Labels)
	}
	podLabels := labels.Set(spec.Template.Labels)

	// The headless Service: raft and gossip, named before readiness.
	headless := m.services[spec.ServiceName]
	if headless == nil {
		t.Fatalf("serviceName %q: no such Service", spec.ServiceName)
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service %s: clusterIP %q, want None (headless)", headless.Name, headless.Spec.ClusterIP)
	}
	if !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: publishNotReadyAddresses false, want true (pods find each other before a leader exists)", headless.Name)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	wantPorts := map[string]struct {
		port  int32
		proto corev1.Protocol
	}{
		"http":       {7070, corev1.ProtocolTCP},
		"raft":       {7071, corev1.ProtocolTCP},
		"gossip":     {7072, corev1.ProtocolTCP},
		"gossip-udp": {7072, corev1.ProtocolUDP},
	}
	for name, w := range wantPorts {
		if p, ok := ports[name]; !ok || p.ContainerPort != w.port || p.Protocol != w.proto {
			t.Errorf("container port %s: got %+v, want %d/%s", name, p, w.port, w.proto)
		}
	}
	checkService := func(svc *corev1.Service, want ...string) {
		t.Helper()
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Selector) == 0 {
			t.Errorf("Service %s: selector %v does not select the pods %v", svc.Name, svc.Spec.Selector, podLabels)
		}
		var got []string
		for _, p := range svc.Spec.Ports {
			got = append(got, p.Name)
			cp, ok := ports[p.TargetPort.String()]
			if !ok || cp.ContainerPort != p.Port || cp.Protocol != p.Protocol {
				t.Errorf("Service %s port %s: %d/%s to %q, which is no container port of that number and protocol", svc.Name, p.Name, p.Port, p.Protocol, p.TargetPort.String())
			}
		}
		if slices.Sort(got); !slices.Equal(got, want) {
			t.Errorf("Service %s: ports %v, want %v", svc.Name, got, want)
		}
	}
	checkService(headless, "gossip", "gossip-udp", "raft")
	api := m.services["vproc-api"]
	if api == nil {
		t.Fatal("no Service vproc-api")
	}
	if api.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Error("Service vproc-api is headless, want a virtual IP for clients")
	}
	checkService(api, "http")

	// The agent's arguments: node name from the pod, advertised pod IP,
	// and a join of every replica through the headless Service.
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			env[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		}
	}
	flags := map[string][]string{}
	if len(c.Args) == 0 || c.Args[0] != "agent" {
		t.Fatalf("args %v, want vproc agent", c.Args)
	}
	for _, a := range c.Args[1:] {
		k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			t.Fatalf("argument %q: want --flag=value", a)
		}
		flags[k] = append(flags[k], v)
	}
	expand := func(s string) string { // $(VAR) as the kubelet expands it
		return regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(s, func(v string) string {
			if e, ok := env[v[2:len(v)-1]]; ok {
				return "{" + e + "}"
			}
			return v
		})
	}
	if got := expand(one(t, flags, "name")); got != "{field:metadata.name}" {
		t.Errorf("--name: got %s, want the pod's name", got)
	}
	if got := expand(one(t, flags, "advertise")); got != "{field:status.podIP}" {
		t.Errorf("--advertise: got %s, want the pod's IP", got)
	}
	var wantJoin []string
	for i := 0; i < replicas; i++ {
		wantJoin = append(wantJoin, fmt.Sprintf("%s-%d.%s.{field:metadata.namespace}.svc:%d", sts.Name, i, headless.Name, ports["gossip"].ContainerPort))
	}
	var gotJoin []string
	for _, j := range flags["join"] {
		gotJoin = append(gotJoin, expand(j))
	}
	if !slices.Equal(gotJoin, wantJoin) {
		t.Errorf("--join: got %v, want %v", gotJoin, wantJoin)
	}
	if env["VPROC_ADDR"] != "http://127.0.0.1:"+strconv.Itoa(int(ports["http"].ContainerPort)) {
		t.Errorf("VPROC_ADDR %q: the probes' vproc health must reach the pod's own agent", env["VPROC_ADDR"])
	}

	// The config file: from the ConfigMap, bootstrapping all replicas.
	cfgPath := one(t, flags, "config")
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	var cm *corev1.ConfigMap
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && strings.HasPrefix(cfgPath, mounts[v.Name].MountPath+"/") {
			cm = m.configMaps[v.ConfigMap.Name]
		}
	}
	if cm == nil {
		t.Fatalf("--config %s is not in a mounted ConfigMap", cfgPath)
	}
	hcl := cm.Data[strings.TrimPrefix(cfgPath, mounts["config"].MountPath+"/")]
	if !regexp.MustCompile(`(?m)^\s*bootstrap_expect\s*=\s*` + strconv.Itoa(replicas) + `\s*$`).MatchString(hcl) {
		t.Errorf("ConfigMap %s: want bootstrap_expect = %d in\n%s", cm.Name, replicas, hcl)
	}
	dataDir := regexp.MustCompile(`(?m)^\s*data_dir\s*=\s*"([^"]+)"`).FindStringSubmatch(hcl)
	if len(dataDir) != 2 {
		t.Fatalf("ConfigMap %s: no data_dir", cm.Name)
	}

	// Data: a claim per pod, mounted at data_dir, owned by the image's user.
	if len(spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("got %d volumeClaimTemplates, want 1", len(spec.VolumeClaimTemplates))
	}
	claim := spec.VolumeClaimTemplates[0].Name
	if mounts[claim].MountPath != dataDir[1] {
		t.Errorf("claim %s mounted at %q, want data_dir %q", claim, mounts[claim].MountPath, dataDir[1])
	}
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.FSGroup == nil || *sc.FSGroup != 65532 {
		t.Errorf("pod securityContext %+v: want non-root user 65532 (the image's) owning the volume (fsGroup)", sc)
	}

	// Probes: ready with a leader, alive while the agent answers.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		want  []string
	}{
		{"readiness", c.ReadinessProbe, []string{"/vproc", "health"}},
		{"liveness", c.LivenessProbe, []string{"/vproc", "health", "--agent-only"}},
	} {
		if p.probe == nil || p.probe.Exec == nil || !slices.Equal(p.probe.Exec.Command, p.want) {
			t.Errorf("%s probe: got %+v, want exec %v", p.name, p.probe, p.want)
		}
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g <= 30 {
		t.Errorf("terminationGracePeriodSeconds %v: want more than the agent's shutdown_timeout (30s)", g)
	}

	// At most one agent down by choice: two of three keep the quorum.
	pdb := m.pdbs["vproc"]
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget vproc")
	}
	if mu := pdb.Spec.MaxUnavailable; mu == nil || mu.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget: maxUnavailable %v, minAvailable %v; want maxUnavailable 1 only", mu, pdb.Spec.MinAvailable)
	}
	if s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || s.Empty() || !s.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods", pdb.Spec.Selector)
	}
}

// one returns the single value of a flag.
func one(t *testing.T, flags map[string][]string, name string) string {
	t.Helper()
	if len(flags[name]) != 1 {
		t.Fatalf("--%s given %d times, want once", name, len(flags[name]))
	}
	return flags[name][0]
}

// TestStrictDecoding checks that the decoding catches a misspelt field, so
// that TestManifests' strictness is real.
func TestStrictDecoding(t *testing.T) {
	src, err := os.ReadFile("vproc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(src, []byte("\n  podManagementPolicy: Parallel"), []byte("\n  podManagmentPolicy: Parallel"), 1)
	if bytes.Equal(bad, src) {
		t.Fatal("vproc.yaml has no podManagementPolicy to misspell")
	}
	var sts appsv1.StatefulSet
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(bad), -1) {
		if strings.Contains(doc, "kind: StatefulSet") {
			if err := yaml.UnmarshalStrict([]byte(doc), &sts); err == nil || !strings.Contains(err.Error(), "podManagmentPolicy") {
				t.Errorf("misspelt field: got %v, want an error naming it", err)
			}
			return
		}
	}
	t.Fatal("no StatefulSet document")
}
