package k8s

// host:port addresses in args, env and Secrets: a Service (or a port of
// the same pod) answers there.

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

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
