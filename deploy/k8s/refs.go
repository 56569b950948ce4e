package k8s

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// pod is the pods one workload makes: its labels and pod spec. Operators'
// custom resources (FlinkDeployment, Strimzi's Kafka) make pods too; those are
// modelled from the resource (virtual) so that Services, NetworkPolicies and
// address references can be checked against them.
type pod struct {
	owner     string
	namespace string
	labels    map[string]string
	spec      *corev1.PodSpec
	virtual   bool
	// managed names containers whose image and resources an operator sets
	// from its resource (checked there instead).
	managed map[string]bool
	// role is "jobmanager" or "taskmanager" for Flink pods.
	role string
}

// service is a Service, or one an operator creates (virtual).
type service struct {
	owner     string
	namespace string
	name      string
	selector  map[string]string // nil: no selector (virtual services)
	ports     []corev1.ServicePort
	headless  bool
}

// world is everything the references are checked against.
type world struct {
	objs       []*Object
	namespace  map[string]bool
	pods       []*pod
	services   map[string]*service // namespace/name
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
	pvcs       map[string]bool
	sas        map[string]bool
	roles      map[string]bool
	workloads  map[string]*Object // Kind/namespace/name
	kafkas     map[string]*Object // namespace/name
	kafkaUsers []*kafkaUser
	// userSecrets are the Secrets Strimzi's User Operator writes, by
	// namespace/name (modelled in secrets too).
	userSecrets map[string]*kafkaUser
	errs        []error
}

func (w *world) bad(format string, args ...any) { w.errs = append(w.errs, fmt.Errorf(format, args...)) }

func key(ns, name string) string { return ns + "/" + name }

// CheckReferences checks what the API server cannot: that the objects of one
// build refer to each other correctly.
//   - Services select the pods of some workload and target ports those pods
//     declare; a StatefulSet's serviceName is a headless Service of its pods.
//   - Every Secret, ConfigMap (and key of it), PersistentVolumeClaim and
//     ServiceAccount a pod uses (env, envFrom, volumes) exists.
//   - HorizontalPodAutoscaler and PodDisruptionBudget targets exist.
//   - Ingress backends name existing Services and ports; TLS Secrets exist
//     (or cert-manager makes them).
//   - Probes hit ports their container declares; every container has CPU and
//     memory requests and limits and a pinned image.
//   - NetworkPolicies select pods and name ports those pods declare.
//   - host:port addresses in args, env and the Secrets they read name a
//     Service (or an operator's Service) with that port.
//   - Strimzi: topics, node pools and users name an existing Kafka, topic
//     replicas fit the brokers; Flink: parallelism fits the task slots and
//     the partitions of stratus.canvas (the scaling knobs, in step).
//   - Kafka access (kafkaacl.go): simple authorization and authenticated
//     listeners, KafkaUsers' ACLs name existing topics and the pipeline's
//     groups, every Kafka client takes its password from its KafkaUser's
//     generated Secret, and only the pipeline's user may write
//     stratus.predictions, stratus.samples and stratus.deadletter, only the
//     frontends' user may read stratus.predictions.
func CheckReferences(objs []*Object) error {
	w := &world{
		objs: objs, namespace: map[string]bool{}, services: map[string]*service{},
		secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{},
		pvcs: map[string]bool{}, sas: map[string]bool{}, roles: map[string]bool{},
		workloads: map[string]*Object{}, kafkas: map[string]*Object{}, userSecrets: map[string]*kafkaUser{},
	}
	w.collect()
	w.collectKafkaUsers()
	w.checkNames()
	w.checkPods()
	w.checkServices()
	w.checkAutoscalingAndDisruption()
	w.checkIngresses()
	w.checkNetworkPolicies()
	w.checkRBAC()
	w.checkStrimzi()
	w.checkKafkaAccess()
	w.checkFlink()
	return errors.Join(w.errs...)
}

// collect indexes the objects and models the pods and Services.
func (w *world) collect() {
	for _, o := range w.objs {
		ns := o.Namespace
		switch t := o.Typed.(type) {
		case *corev1.Namespace:
			w.namespace[t.Name] = true
		case *corev1.Secret:
			w.secrets[key(ns, t.Name)] = t
		case *corev1.ConfigMap:
			w.configMaps[key(ns, t.Name)] = t
		case *corev1.PersistentVolumeClaim:
			w.pvcs[key(ns, t.Name)] = true
		case *corev1.ServiceAccount:
			w.sas[key(ns, t.Name)] = true
		case *rbacv1.Role:
			w.roles[key(ns, t.Name)] = true
		case *corev1.Service:
			w.services[key(ns, t.Name)] = &service{owner: o.ID(), namespace: ns, name: t.Name,
				selector: t.Spec.Selector, ports: t.Spec.Ports, headless: t.Spec.ClusterIP == corev1.ClusterIPNone}
		case *appsv1.Deployment:
			w.addWorkload(o, &t.Spec.Template, t.Spec.Selector)
		case *appsv1.StatefulSet:
			w.addWorkload(o, &t.Spec.Template, t.Spec.Selector)
			for _, c := range t.Spec.VolumeClaimTemplates {
				w.pvcs[key(ns, c.Name)] = true // the pod's volumes name the template
			}
		case *appsv1.DaemonSet:
			w.addWorkload(o, &t.Spec.Template, t.Spec.Selector)
		case *appsv1.ReplicaSet:
			w.addWorkload(o, &t.Spec.Template, t.Spec.Selector)
		case *batchv1.Job:
			w.addWorkload(o, &t.Spec.Template, nil)
		case *batchv1.CronJob:
			w.addWorkload(o, &t.Spec.JobTemplate.Spec.Template, nil)
		case *corev1.Pod:
			w.workloads[o.ID()] = o
			w.pods = append(w.pods, &pod{owner: o.ID(), namespace: ns, labels: t.Labels, spec: &t.Spec})
		}
		switch o.GVK.Kind {
		case "FlinkDeployment":
			w.addFlink(o)
		case "Kafka":
			w.kafkas[key(ns, o.Name)] = o
		}
	}
	for _, o := range w.objs {
		if o.GVK.Kind == "KafkaNodePool" {
			w.addKafkaPool(o)
		}
	}
	for _, k := range w.kafkas {
		w.addKafkaServices(k)
	}
}

func (w *world) addWorkload(o *Object, tpl *corev1.PodTemplateSpec, sel *metav1.LabelSelector) {
	w.workloads[o.ID()] = o
	if sel != nil {
		s, err := metav1.LabelSelectorAsSelector(sel)
		switch {
		case err != nil:
			w.bad("%s: selector: %v", o.ID(), err)
		case s.Empty() || !s.Matches(labels.Set(tpl.Labels)):
			w.bad("%s: selector %v does not match its pod template's labels %v", o.ID(), s, tpl.Labels)
		}
	}
	w.pods = append(w.pods, &pod{owner: o.ID(), namespace: o.Namespace, labels: tpl.Labels, spec: &tpl.Spec})
}

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

// kafkaListenerPorts are the client listener ports of a Strimzi Kafka.
func kafkaListenerPorts(k *Object) []corev1.ContainerPort {
	var ports []corev1.ContainerPort
	ls, _ := path(k.Map, "spec", "kafka", "listeners").([]any)
	for _, l := range ls {
		lm, _ := l.(map[string]any)
		if p, ok := num(lm, "port"); ok {
			ports = append(ports, corev1.ContainerPort{Name: "tcp-" + str(lm, "name"), ContainerPort: int32(p)})
		}
	}
	return ports
}

// addKafkaPool models the pods of a Strimzi node pool.
func (w *world) addKafkaPool(o *Object) {
	cluster := str(o.Map, "metadata", "labels", "strimzi.io/cluster")
	k, ok := w.kafkas[key(o.Namespace, cluster)]
	if !ok {
		return // reported by checkStrimzi
	}
	ports := append(kafkaListenerPorts(k), corev1.ContainerPort{Name: "tcp-ctrlplane", ContainerPort: 9090}, corev1.ContainerPort{Name: "tcp-replication", ContainerPort: 9091})
	w.pods = append(w.pods, &pod{owner: o.ID(), namespace: o.Namespace, virtual: true, managed: map[string]bool{"kafka": true},
		labels: map[string]string{"strimzi.io/cluster": cluster, "strimzi.io/kind": "Kafka", "strimzi.io/name": cluster + "-kafka", "strimzi.io/pool-name": o.Name},
		spec:   &corev1.PodSpec{Containers: []corev1.Container{{Name: "kafka", Ports: ports}}}})
}

// addKafkaServices models the Services Strimzi creates for a Kafka:
// NAME-kafka-bootstrap (the listeners) and the headless NAME-kafka-brokers.
func (w *world) addKafkaServices(k *Object) {
	var ports []corev1.ServicePort
	for _, p := range kafkaListenerPorts(k) {
		ports = append(ports, corev1.ServicePort{Name: p.Name, Port: p.ContainerPort, TargetPort: intstr.FromInt32(p.ContainerPort)})
	}
	for _, n := range []string{"-kafka-bootstrap", "-kafka-brokers"} {
		w.services[key(k.Namespace, k.Name+n)] = &service{owner: k.ID(), namespace: k.Namespace, name: k.Name + n, ports: ports, headless: n == "-kafka-brokers"}
	}
}

// checkNames: valid names, one namespace that the build also creates.
func (w *world) checkNames() {
	for _, o := range w.objs {
		msgs := validation.IsDNS1123Subdomain(o.Name)
		if o.GVK.Kind == "Service" {
			msgs = validation.IsDNS1035Label(o.Name)
		}
		for _, m := range msgs {
			w.bad("%s: name: %s", o.ID(), m)
		}
		if o.Namespace != "" && !w.namespace[o.Namespace] {
			w.bad("%s: namespace %q is not created by this build", o.ID(), o.Namespace)
		}
	}
}

// portOf finds a container port by name or number.
func portOf(c *corev1.Container, p intstr.IntOrString) bool {
	for _, cp := range c.Ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return true
		}
	}
	return false
}

// podPort reports whether some container of the pod declares port p.
func podPort(p *pod, port intstr.IntOrString) bool {
	for i := range p.spec.Containers {
		if portOf(&p.spec.Containers[i], port) {
			return true
		}
	}
	return false
}

// checkPods: what each pod uses exists; probes, resources and images.
func (w *world) checkPods() {
	for _, p := range w.pods {
		spec := p.spec
		ns := p.namespace
		if sa := spec.ServiceAccountName; sa != "" && sa != "default" && !w.sas[key(ns, sa)] {
			w.bad("%s: serviceAccountName %q: no such ServiceAccount", p.owner, sa)
		}
		volumes := map[string]corev1.Volume{}
		for _, v := range spec.Volumes {
			volumes[v.Name] = v
			switch {
			case v.Secret != nil:
				w.needSecret(p.owner, ns, v.Secret.SecretName, "", v.Secret.Optional)
				for _, it := range v.Secret.Items {
					w.needSecret(p.owner, ns, v.Secret.SecretName, it.Key, v.Secret.Optional)
				}
			case v.ConfigMap != nil:
				w.needConfigMap(p.owner, ns, v.ConfigMap.Name, "", v.ConfigMap.Optional)
				for _, it := range v.ConfigMap.Items {
					w.needConfigMap(p.owner, ns, v.ConfigMap.Name, it.Key, v.ConfigMap.Optional)
				}
			case v.PersistentVolumeClaim != nil:
				if !w.pvcs[key(ns, v.PersistentVolumeClaim.ClaimName)] {
					w.bad("%s: volume %s: no PersistentVolumeClaim %q", p.owner, v.Name, v.PersistentVolumeClaim.ClaimName)
				}
			}
		}
		all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
		for i := range all {
			c := &all[i]
			id := p.owner + " container " + c.Name
			w.checkImage(id, c.Image, p.managed[c.Name])
			if !p.managed[c.Name] {
				w.checkResources(id, c.Resources)
			}
			for _, vm := range c.VolumeMounts {
				v, ok := volumes[vm.Name]
				if !ok {
					if _, claim := w.pvcs[key(ns, vm.Name)]; !claim {
						w.bad("%s: volumeMount %q: no such volume", id, vm.Name)
					}
					continue
				}
				if vm.SubPath != "" && v.ConfigMap != nil {
					w.needConfigMap(id, ns, v.ConfigMap.Name, vm.SubPath, v.ConfigMap.Optional)
				}
				if vm.SubPath != "" && v.Secret != nil {
					w.needSecret(id, ns, v.Secret.SecretName, vm.SubPath, v.Secret.Optional)
				}
			}
			values := append([]string{}, c.Args...)
			values = append(values, c.Command...)
			for _, e := range c.Env {
				values = append(values, e.Value)
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					if s := w.needSecret(id, ns, r.Name, r.Key, r.Optional); s != nil {
						values = append(values, string(s.Data[r.Key]))
					}
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					if cm := w.needConfigMap(id, ns, r.Name, r.Key, r.Optional); cm != nil {
						values = append(values, cm.Data[r.Key])
					}
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					w.needSecret(id, ns, ef.SecretRef.Name, "", ef.SecretRef.Optional)
				}
				if ef.ConfigMapRef != nil {
					w.needConfigMap(id, ns, ef.ConfigMapRef.Name, "", ef.ConfigMapRef.Optional)
				}
			}
			for name, pr := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe, "startupProbe": c.StartupProbe} {
				if pr == nil {
					continue
				}
				var port *intstr.IntOrString
				switch {
				case pr.HTTPGet != nil:
					port = &pr.HTTPGet.Port
				case pr.TCPSocket != nil:
					port = &pr.TCPSocket.Port
				case pr.GRPC != nil:
					gp := intstr.FromInt32(pr.GRPC.Port)
					port = &gp
				}
				if port != nil && !portOf(c, *port) {
					w.bad("%s: %s probes port %s, which the container does not declare", id, name, port.String())
				}
			}
			w.checkAddresses(id, p, values)
		}
	}
}

// needSecret checks that a Secret (and its key) exists; nil if not.
func (w *world) needSecret(who, ns, name, k string, optional *bool) *corev1.Secret {
	s, ok := w.secrets[key(ns, name)]
	if optional != nil && *optional {
		return s
	}
	switch {
	case !ok:
		w.bad("%s: Secret %q does not exist in %s", who, name, ns)
		return nil
	case k != "":
		_, inData := s.Data[k]
		_, inString := s.StringData[k]
		if !inData && !inString {
			w.bad("%s: Secret %s has no key %q (keys: %s)", who, name, k, joinSorted(sortedKeys(s.Data)))
		}
	}
	return s
}

// needConfigMap checks that a ConfigMap (and its key) exists; nil if not.
func (w *world) needConfigMap(who, ns, name, k string, optional *bool) *corev1.ConfigMap {
	cm, ok := w.configMaps[key(ns, name)]
	if optional != nil && *optional {
		return cm
	}
	switch {
	case !ok:
		w.bad("%s: ConfigMap %q does not exist in %s", who, name, ns)
		return nil
	case k != "":
		_, inData := cm.Data[k]
		_, inBinary := cm.BinaryData[k]
		if !inData && !inBinary {
			w.bad("%s: ConfigMap %s has no key %q (keys: %s)", who, name, k, joinSorted(sortedKeys(cm.Data)))
		}
	}
	return cm
}

// checkImage wants a repository and a tag other than latest.
func (w *world) checkImage(id, image string, managed bool) {
	if image == "" {
		if !managed {
			w.bad("%s: no image", id)
		}
		return
	}
	ref := image
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	if strings.Contains(ref, "@sha256:") {
		return
	}
	if _, tag, ok := strings.Cut(ref, ":"); !ok || tag == "" || tag == "latest" {
		w.bad("%s: image %q must be pinned to a tag (not latest) or a digest", id, image)
	}
}

// checkResources wants CPU and memory requests and limits, requests ≤ limits.
func (w *world) checkResources(id string, r corev1.ResourceRequirements) {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[name]
		lim, okLim := r.Limits[name]
		if !okReq || !okLim {
			w.bad("%s: needs resources.requests and resources.limits for %s", id, name)
			continue
		}
		if req.Cmp(lim) > 0 {
			w.bad("%s: %s request %s is above its limit %s", id, name, req.String(), lim.String())
		}
	}
}

// address is host:port, as in args (--x=host:port), env values and URLs.
var address = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?):([0-9]{1,5})$`)

// checkAddresses checks every host:port in values: a Service of this
// namespace (NAME, NAME.NS, NAME.NS.svc[.cluster.local]) with that port, or,
// for localhost, a container of the same pod; the pipeline's
// --environment-config=localhost:PORT is served beside the Flink task
// managers instead (the worker pool).
func (w *world) checkAddresses(id string, p *pod, values []string) {
	for _, v := range values {
		workerPool := false
		if rest, ok := strings.CutPrefix(v, "--environment-config="); ok {
			v, workerPool = rest, true
		} else if i := strings.Index(v, "="); strings.HasPrefix(v, "--") && i > 0 {
			v = v[i+1:]
		}
		for _, tok := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			if strings.Contains(tok, "://") {
				u, err := url.Parse(tok)
				if err != nil || u.Port() == "" {
					continue
				}
				tok = u.Hostname() + ":" + u.Port()
			}
			m := address.FindStringSubmatch(tok)
			if m == nil {
				continue
			}
			host, portStr := m[1], m[3]
			port, _ := strconv.Atoi(portStr)
			if host == "localhost" || host == "127.0.0.1" || host == "0.0.0.0" {
				if host == "0.0.0.0" {
					continue // a listen address
				}
				target := []*pod{p}
				if workerPool {
					target = nil
					for _, q := range w.pods {
						if q.role == "taskmanager" && q.namespace == p.namespace {
							target = append(target, q)
						}
					}
				}
				if len(target) == 0 || !slices.ContainsFunc(target, func(q *pod) bool { return podPort(q, intstr.FromInt(port)) }) {
					w.bad("%s: %s: nothing in the pod(s) it means declares port %d", id, tok, port)
				}
				continue
			}
			parts := strings.Split(host, ".")
			if len(parts) > 1 && !(len(parts) >= 3 && parts[2] == "svc") && len(parts) != 2 {
				continue // not a cluster Service name (a DNS name outside)
			}
			ns := p.namespace
			if len(parts) > 1 {
				ns = parts[1]
			}
			s, ok := w.services[key(ns, parts[0])]
			if !ok {
				w.bad("%s: %s: no Service %q in %s", id, tok, parts[0], ns)
				continue
			}
			if !slices.ContainsFunc(s.ports, func(sp corev1.ServicePort) bool { return int(sp.Port) == port }) {
				w.bad("%s: %s: Service %s has no port %d", id, tok, s.name, port)
			}
		}
	}
}

// selected are the pods of ns that a selector matches.
func (w *world) selected(ns string, sel labels.Selector) []*pod {
	var out []*pod
	for _, p := range w.pods {
		if p.namespace == ns && sel.Matches(labels.Set(p.labels)) {
			out = append(out, p)
		}
	}
	return out
}

// checkServices: selectors match pods that declare the target ports;
// StatefulSets' governing Services exist and are headless.
func (w *world) checkServices() {
	for _, s := range w.services {
		if s.selector == nil {
			continue
		}
		if len(s.selector) == 0 {
			w.bad("%s: empty selector (selects no pods by design? give it one)", s.owner)
			continue
		}
		pods := w.selected(s.namespace, labels.SelectorFromSet(s.selector))
		if len(pods) == 0 {
			w.bad("%s: selector %v matches the pods of no workload", s.owner, s.selector)
			continue
		}
		for _, sp := range s.ports {
			tp := sp.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(sp.Port)
			}
			for _, p := range pods {
				if !podPort(p, tp) {
					w.bad("%s: port %q targets %s, which %s does not declare", s.owner, sp.Name, tp.String(), p.owner)
				}
			}
		}
	}
	for _, o := range w.objs {
		ss, ok := o.Typed.(*appsv1.StatefulSet)
		if !ok {
			continue
		}
		s, ok := w.services[key(o.Namespace, ss.Spec.ServiceName)]
		switch {
		case !ok:
			w.bad("%s: serviceName %q: no such Service", o.ID(), ss.Spec.ServiceName)
		case !s.headless:
			w.bad("%s: serviceName %q must be a headless Service (clusterIP: None)", o.ID(), ss.Spec.ServiceName)
		case !containsAll(ss.Spec.Template.Labels, s.selector):
			w.bad("%s: its Service %s does not select its pods", o.ID(), s.name)
		}
	}
}

// checkAutoscalingAndDisruption: HPA targets exist (with CPU requests for a
// utilization target), PDBs select pods.
func (w *world) checkAutoscalingAndDisruption() {
	for _, o := range w.objs {
		switch t := o.Typed.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := t.Spec.ScaleTargetRef
			target, ok := w.workloads[ref.Kind+"/"+o.Namespace+"/"+ref.Name]
			if !ok {
				w.bad("%s: scaleTargetRef %s/%s does not exist", o.ID(), ref.Kind, ref.Name)
				continue
			}
			if target.GVK.GroupVersion().String() != ref.APIVersion {
				w.bad("%s: scaleTargetRef apiVersion %q, the target is %s", o.ID(), ref.APIVersion, target.GVK.GroupVersion())
			}
			if t.Spec.MinReplicas != nil && *t.Spec.MinReplicas > t.Spec.MaxReplicas {
				w.bad("%s: minReplicas %d > maxReplicas %d", o.ID(), *t.Spec.MinReplicas, t.Spec.MaxReplicas)
			}
			if d, ok := target.Typed.(*appsv1.Deployment); ok && d.Spec.Replicas != nil && t.Spec.MinReplicas != nil && *d.Spec.Replicas < *t.Spec.MinReplicas {
				w.bad("%s: the Deployment's replicas %d are below the HPA's minReplicas %d", o.ID(), *d.Spec.Replicas, *t.Spec.MinReplicas)
			}
			for _, m := range t.Spec.Metrics {
				if m.Resource == nil || m.Resource.Name != corev1.ResourceCPU {
					continue
				}
				if d, ok := target.Typed.(*appsv1.Deployment); ok {
					for _, c := range d.Spec.Template.Spec.Containers {
						if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
							w.bad("%s: CPU utilization needs a CPU request on container %s", o.ID(), c.Name)
						}
					}
				}
			}
		case *policyv1.PodDisruptionBudget:
			sel, err := metav1.LabelSelectorAsSelector(t.Spec.Selector)
			if err != nil || sel.Empty() {
				w.bad("%s: needs a non-empty selector", o.ID())
				continue
			}
			if len(w.selected(o.Namespace, sel)) == 0 {
				w.bad("%s: selector %v matches the pods of no workload", o.ID(), sel)
			}
		}
	}
}

// checkIngresses: backends are existing Services and ports; TLS Secrets
// exist unless cert-manager issues them.
func (w *world) checkIngresses() {
	for _, o := range w.objs {
		ing, ok := o.Typed.(*networkingv1.Ingress)
		if !ok {
			continue
		}
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName == "" {
			w.bad("%s: set spec.ingressClassName", o.ID())
		}
		backends := []*networkingv1.IngressBackend{}
		if ing.Spec.DefaultBackend != nil {
			backends = append(backends, ing.Spec.DefaultBackend)
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for i := range r.HTTP.Paths {
				backends = append(backends, &r.HTTP.Paths[i].Backend)
			}
		}
		for _, b := range backends {
			if b.Service == nil {
				w.bad("%s: a backend without a Service", o.ID())
				continue
			}
			s, ok := w.services[key(o.Namespace, b.Service.Name)]
			if !ok {
				w.bad("%s: backend Service %q does not exist", o.ID(), b.Service.Name)
				continue
			}
			bp := b.Service.Port
			if !slices.ContainsFunc(s.ports, func(sp corev1.ServicePort) bool {
				return bp.Name != "" && sp.Name == bp.Name || bp.Name == "" && sp.Port == bp.Number
			}) {
				w.bad("%s: backend port %+v is not a port of Service %s", o.ID(), bp, s.name)
			}
		}
		_, certManager := ing.Annotations["cert-manager.io/cluster-issuer"]
		if !certManager {
			_, certManager = ing.Annotations["cert-manager.io/issuer"]
		}
		for _, tls := range ing.Spec.TLS {
			if _, ok := w.secrets[key(o.Namespace, tls.SecretName)]; !ok && !certManager {
				w.bad("%s: TLS Secret %q does not exist (and no cert-manager issuer annotation makes it)", o.ID(), tls.SecretName)
			}
		}
	}
}

// checkNetworkPolicies: selectors match pods, named ports are declared.
func (w *world) checkNetworkPolicies() {
	for _, o := range w.objs {
		np, ok := o.Typed.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			w.bad("%s: podSelector: %v", o.ID(), err)
			continue
		}
		targets := w.selected(o.Namespace, sel)
		if len(targets) == 0 {
			w.bad("%s: podSelector %v matches no pods", o.ID(), sel)
		}
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				if peer.PodSelector == nil || peer.NamespaceSelector != nil {
					continue
				}
				ps, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
				if err != nil || len(w.selected(o.Namespace, ps)) == 0 {
					w.bad("%s: from podSelector %v matches no pods", o.ID(), ps)
				}
			}
			for _, port := range rule.Ports {
				if port.Port == nil {
					continue
				}
				if !slices.ContainsFunc(targets, func(p *pod) bool { return podPort(p, *port.Port) }) {
					w.bad("%s: port %s is declared by none of the pods it selects", o.ID(), port.Port.String())
				}
			}
		}
	}
}

// checkRBAC: RoleBindings bind existing Roles to existing ServiceAccounts.
func (w *world) checkRBAC() {
	for _, o := range w.objs {
		rb, ok := o.Typed.(*rbacv1.RoleBinding)
		if !ok {
			continue
		}
		if rb.RoleRef.Kind == "Role" && !w.roles[key(o.Namespace, rb.RoleRef.Name)] {
			w.bad("%s: roleRef Role %q does not exist", o.ID(), rb.RoleRef.Name)
		}
		for _, s := range rb.Subjects {
			ns := s.Namespace
			if ns == "" {
				ns = o.Namespace
			}
			if s.Kind == "ServiceAccount" && !w.sas[key(ns, s.Name)] {
				w.bad("%s: subject ServiceAccount %s/%s does not exist", o.ID(), ns, s.Name)
			}
		}
	}
}

// checkStrimzi: node pools and topics belong to a Kafka of the build, each
// Kafka has controllers and brokers, topic replicas fit the brokers, and the
// resources of the broker pods are set.
func (w *world) checkStrimzi() {
	brokers := map[string]int64{}
	controllers := map[string]bool{}
	for _, o := range w.objs {
		if o.GVK.Kind != "KafkaNodePool" {
			continue
		}
		cluster := str(o.Map, "metadata", "labels", "strimzi.io/cluster")
		if _, ok := w.kafkas[key(o.Namespace, cluster)]; !ok {
			w.bad("%s: label strimzi.io/cluster %q names no Kafka of this build", o.ID(), cluster)
			continue
		}
		n, _ := num(o.Map, "spec", "replicas")
		roles, _ := path(o.Map, "spec", "roles").([]any)
		for _, r := range roles {
			switch r {
			case "broker":
				brokers[key(o.Namespace, cluster)] += n
			case "controller":
				controllers[key(o.Namespace, cluster)] = true
			}
		}
		w.checkCRResources(o.ID()+" spec.resources", path(o.Map, "spec", "resources"))
	}
	for k, o := range w.kafkas {
		if brokers[k] == 0 || !controllers[k] {
			w.bad("%s: needs node pools with the broker and controller roles (KRaft)", o.ID())
		}
		if eo := path(o.Map, "spec", "entityOperator", "topicOperator"); eo != nil {
			w.checkCRResources(o.ID()+" spec.entityOperator.topicOperator.resources", path(o.Map, "spec", "entityOperator", "topicOperator", "resources"))
		}
	}
	for _, o := range w.objs {
		if o.GVK.Kind != "KafkaTopic" {
			continue
		}
		cluster := str(o.Map, "metadata", "labels", "strimzi.io/cluster")
		k := key(o.Namespace, cluster)
		if _, ok := w.kafkas[k]; !ok {
			w.bad("%s: label strimzi.io/cluster %q names no Kafka of this build", o.ID(), cluster)
			continue
		}
		r, _ := num(o.Map, "spec", "replicas")
		if r > brokers[k] {
			w.bad("%s: replicas %d, but Kafka %s has %d broker(s)", o.ID(), r, cluster, brokers[k])
		}
		if isr, ok := path(o.Map, "spec", "config", "min.insync.replicas").(int64); ok && r > 1 && isr >= r {
			w.bad("%s: min.insync.replicas %d leaves no broker to lose with replicas %d", o.ID(), isr, r)
		}
	}
}

// checkCRResources wants requests and limits for cpu and memory in a
// custom resource's resources field.
func (w *world) checkCRResources(id string, v any) {
	var r corev1.ResourceRequirements
	if v == nil {
		w.bad("%s: missing", id)
		return
	}
	if err := decodeInto(v, &r); err != nil {
		w.bad("%s: %v", id, err)
		return
	}
	w.checkResources(id, r)
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
