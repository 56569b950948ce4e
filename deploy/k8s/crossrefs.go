package k8s

import (
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
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
//
// This file models the build (world: its pods, Services, Secrets …) and
// runs the checks; each concern is a file of its own: crossrefs_pods.go,
// crossrefs_secrets.go, crossrefs_addresses.go, crossrefs_services.go
// (Services, Ingresses, NetworkPolicies), crossrefs_workloads.go
// (autoscalers, disruption budgets, RBAC), crossrefs_kafka.go (Strimzi),
// crossrefs_flink.go, kafkaacl.go (Kafka access).
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
