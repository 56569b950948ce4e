package k8s

// What refers to workloads and their accounts: autoscalers, disruption
// budgets, RoleBindings.

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

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
