package k8s

// Strimzi: the pods and Services the operator makes for a Kafka, and its
// node pools and topics (Kafka access is kafkaacl.go).

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

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
