package k8s

// Pods: what each pod and container uses exists; probes, images, resources.

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

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

// checkPods: what each pod uses exists; probes, resources and images.
func (w *world) checkPods() {
	for _, p := range w.pods {
		spec := p.spec
		if sa := spec.ServiceAccountName; sa != "" && sa != "default" && !w.sas[key(p.namespace, sa)] {
			w.bad("%s: serviceAccountName %q: no such ServiceAccount", p.owner, sa)
		}
		volumes := w.checkVolumes(p)
		all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
		for i := range all {
			w.checkContainer(p, &all[i], volumes)
		}
	}
}

// checkVolumes: the Secrets, ConfigMaps (and their keys) and claims of p's
// volumes exist. It returns the volumes by name.
func (w *world) checkVolumes(p *pod) map[string]corev1.Volume {
	ns := p.namespace
	volumes := map[string]corev1.Volume{}
	for _, v := range p.spec.Volumes {
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
	return volumes
}

// checkContainer: one container of p: its image and resources, its volume
// mounts, what its env reads, its probes and the addresses it names.
func (w *world) checkContainer(p *pod, c *corev1.Container, volumes map[string]corev1.Volume) {
	ns := p.namespace
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
	values := w.containerValues(id, ns, c)
	w.checkProbes(id, c)
	w.checkAddresses(id, p, values)
}

// containerValues checks the Secrets and ConfigMaps (and keys) c's env
// reads, and returns what may hold addresses: its args, command and env
// values, those read from Secrets and ConfigMaps included.
func (w *world) containerValues(id, ns string, c *corev1.Container) []string {
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
	return values
}

// checkProbes: c's probes hit ports c declares.
func (w *world) checkProbes(id string, c *corev1.Container) {
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
}
