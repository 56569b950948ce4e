package k8s

// The Secrets and ConfigMaps (and their keys) that pods read.

import (
	corev1 "k8s.io/api/core/v1"
)

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
