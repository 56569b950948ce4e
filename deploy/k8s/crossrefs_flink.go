package k8s

// Flink: the pods and Service the operator makes for a FlinkDeployment, and
// its knobs (parallelism, task slots, partitions of stratus.canvas).

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// flinkMain is the container the Flink operator fills in from the resource.
const flinkMain = "flink-main-container"

// addFlink models the JobManager and TaskManager pods of a FlinkDeployment:
// the operator merges spec.podTemplate with the role's podTemplate, adds its
// labels (app, component) and the main container, and creates Service
// NAME-rest (the REST API, port 8081).
func (w *world) addFlink(o *Object) {
	decodePod := func(keys ...string) *corev1.Pod {
		v := path(o.Map, keys...)
		if v == nil {
			return &corev1.Pod{}
		}
		p := &corev1.Pod{}
		if err := decodeInto(v, p); err != nil {
			w.bad("%s: %s is not a valid Pod: %v", o.ID(), strings.Join(keys, "."), err)
		}
		return p
	}
	common := decodePod("spec", "podTemplate")
	image := str(o.Map, "spec", "image")
	roles := []struct {
		role  string
		ports []corev1.ContainerPort
	}{
		{"jobmanager", []corev1.ContainerPort{{Name: "jobmanager-rpc", ContainerPort: 6123}, {Name: "blobserver", ContainerPort: 6124}, {Name: "rest", ContainerPort: 8081}}},
		{"taskmanager", []corev1.ContainerPort{{Name: "rpc", ContainerPort: 6122}, {Name: "data", ContainerPort: 6121}}},
	}
	for _, r := range roles {
		field := map[string]string{"jobmanager": "jobManager", "taskmanager": "taskManager"}[r.role]
		rp := decodePod("spec", field, "podTemplate")
		spec := mergePodSpecs(&common.Spec, &rp.Spec)
		main := -1
		for i := range spec.Containers {
			if spec.Containers[i].Name == flinkMain {
				main = i
			}
		}
		if main < 0 {
			spec.Containers = append([]corev1.Container{{Name: flinkMain}}, spec.Containers...)
			main = 0
		}
		spec.Containers[main].Image = image
		spec.Containers[main].Ports = append(spec.Containers[main].Ports, r.ports...)
		lbl := map[string]string{}
		for k, v := range common.Labels {
			lbl[k] = v
		}
		for k, v := range rp.Labels {
			lbl[k] = v
		}
		lbl["app"], lbl["component"] = o.Name, r.role
		w.pods = append(w.pods, &pod{owner: o.ID(), namespace: o.Namespace, labels: lbl, spec: spec,
			virtual: true, managed: map[string]bool{flinkMain: true}, role: r.role})
	}
	w.services[key(o.Namespace, o.Name+"-rest")] = &service{owner: o.ID(), namespace: o.Namespace, name: o.Name + "-rest",
		ports: []corev1.ServicePort{{Name: "rest", Port: 8081, TargetPort: intstr.FromString("rest")}}}
}

// mergePodSpecs merges a role's pod template over the common one the way
// the Flink operator does: containers and volumes by name.
func mergePodSpecs(common, role *corev1.PodSpec) *corev1.PodSpec {
	out := common.DeepCopy()
	for _, c := range role.Containers {
		i := slices.IndexFunc(out.Containers, func(x corev1.Container) bool { return x.Name == c.Name })
		if i < 0 {
			out.Containers = append(out.Containers, c)
			continue
		}
		m := &out.Containers[i]
		m.VolumeMounts = append(m.VolumeMounts, c.VolumeMounts...)
		m.Env = append(m.Env, c.Env...)
		m.EnvFrom = append(m.EnvFrom, c.EnvFrom...)
		m.Ports = append(m.Ports, c.Ports...)
		if c.Image != "" {
			m.Image = c.Image
		}
	}
	out.InitContainers = append(out.InitContainers, role.InitContainers...)
	for _, v := range role.Volumes {
		if !slices.ContainsFunc(out.Volumes, func(x corev1.Volume) bool { return x.Name == v.Name }) {
			out.Volumes = append(out.Volumes, v)
		}
	}
	if role.ServiceAccountName != "" {
		out.ServiceAccountName = role.ServiceAccountName
	}
	return out
}

// checkFlink: the FlinkDeployment's service account, main containers'
// resources and image, and the knobs: parallelism.default fits the task slots
// and is at most the partitions of stratus.canvas (the Kafka read runs one
// split per partition).
func (w *world) checkFlink() {
	partitions := map[string]int64{}
	for _, o := range w.objs {
		if o.GVK.Kind == "KafkaTopic" {
			topic := str(o.Map, "spec", "topicName")
			if topic == "" {
				topic = o.Name
			}
			n, _ := num(o.Map, "spec", "partitions")
			partitions[key(o.Namespace, topic)] = n
		}
	}
	for _, t := range []string{"stratus.canvas", "stratus.predictions", "stratus.samples", "stratus.deadletter"} {
		found := false
		for k := range partitions {
			if strings.HasSuffix(k, "/"+t) {
				found = true
			}
		}
		if !found {
			w.bad("no KafkaTopic for %s", t)
		}
	}
	for _, o := range w.objs {
		if o.GVK.Kind != "FlinkDeployment" {
			continue
		}
		if sa := str(o.Map, "spec", "serviceAccount"); sa == "" || !w.sas[key(o.Namespace, sa)] {
			w.bad("%s: spec.serviceAccount %q: no such ServiceAccount", o.ID(), sa)
		}
		w.checkImage(o.ID()+" spec.image", str(o.Map, "spec", "image"), false)
		for _, role := range []string{"jobManager", "taskManager"} {
			cpu, okCPU := path(o.Map, "spec", role, "resource", "cpu").(float64)
			if !okCPU {
				if n, ok := num(o.Map, "spec", role, "resource", "cpu"); ok {
					cpu, okCPU = float64(n), true
				}
			}
			if !okCPU || cpu <= 0 || str(o.Map, "spec", role, "resource", "memory") == "" {
				w.bad("%s: spec.%s.resource needs cpu and memory", o.ID(), role)
			}
		}
		conf := func(k string) (int64, bool) {
			n, err := strconv.ParseInt(str(o.Map, "spec", "flinkConfiguration", k), 10, 64)
			return n, err == nil
		}
		slots, okS := conf("taskmanager.numberOfTaskSlots")
		par, okP := conf("parallelism.default")
		tms, okT := num(o.Map, "spec", "taskManager", "replicas")
		if !okS || !okP || !okT {
			w.bad("%s: set taskManager.replicas and flinkConfiguration taskmanager.numberOfTaskSlots and parallelism.default", o.ID())
			continue
		}
		if par > slots*tms {
			w.bad("%s: parallelism.default %d needs more than the %d×%d task slots", o.ID(), par, tms, slots)
		}
		if n := partitions[key(o.Namespace, "stratus.canvas")]; n > 0 && par > n {
			w.bad("%s: parallelism.default %d is above the %d partitions of stratus.canvas: readers would idle", o.ID(), par, n)
		}
	}
}
