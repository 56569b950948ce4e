package k8s

// Traffic to pods: Services, Ingresses and NetworkPolicies select pods
// and name ports those pods declare.

import (
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

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
