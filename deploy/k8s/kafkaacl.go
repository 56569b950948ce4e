package k8s

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Strimzi's KafkaUser (kafka.strimzi.io/v1), decoded strictly: the vendored
// CRD validates it as the API server would, and this typed form is what the
// cross references and the ACL policy read (a field the struct does not know
// is an error here too).
type KafkaUserSpec struct {
	Authentication *KafkaUserAuthentication `json:"authentication,omitempty"`
	Authorization  *KafkaUserAuthorization  `json:"authorization,omitempty"`
	Quotas         *KafkaUserQuotas         `json:"quotas,omitempty"`
	Template       *KafkaUserTemplate       `json:"template,omitempty"`
}

// KafkaUserAuthentication is how the user logs in: scram-sha-512, tls or
// tls-external.
type KafkaUserAuthentication struct {
	Type         string                 `json:"type"`
	Password     *KafkaUserPasswordFrom `json:"password,omitempty"`
	RenewalDays  *int64                 `json:"renewalDays,omitempty"`
	ValidityDays *int64                 `json:"validityDays,omitempty"`
}

// KafkaUserPasswordFrom names a Secret holding a chosen SCRAM password.
type KafkaUserPasswordFrom struct {
	ValueFrom struct {
		SecretKeyRef *corev1.SecretKeySelector `json:"secretKeyRef,omitempty"`
	} `json:"valueFrom"`
}

// KafkaUserAuthorization lists the user's ACL rules (type simple).
type KafkaUserAuthorization struct {
	Type string     `json:"type"`
	ACLs []KafkaACL `json:"acls"`
}

// KafkaACL is one rule: allow (the default) or deny operations on a
// resource, from a host ("*" by default).
type KafkaACL struct {
	Type       string           `json:"type,omitempty"`
	Resource   KafkaACLResource `json:"resource"`
	Host       string           `json:"host,omitempty"`
	Operations []string         `json:"operations"`
}

// KafkaACLResource is a topic, group, cluster or transactionalId, named
// literally (the default) or by prefix; "*" with literal is every one.
type KafkaACLResource struct {
	Type        string `json:"type"`
	Name        string `json:"name,omitempty"`
	PatternType string `json:"patternType,omitempty"`
}

// KafkaUserQuotas are the user's broker quotas.
type KafkaUserQuotas struct {
	ProducerByteRate       *int64   `json:"producerByteRate,omitempty"`
	ConsumerByteRate       *int64   `json:"consumerByteRate,omitempty"`
	RequestPercentage      *int64   `json:"requestPercentage,omitempty"`
	ControllerMutationRate *float64 `json:"controllerMutationRate,omitempty"`
}

// KafkaUserTemplate customizes the generated Secret's metadata.
type KafkaUserTemplate struct {
	Secret *struct {
		Metadata *struct {
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"metadata,omitempty"`
	} `json:"secret,omitempty"`
}

// kafkaUser is a KafkaUser of the build with what it implies: its cluster,
// its principal and the Secret the User Operator writes for it.
type kafkaUser struct {
	obj     *Object
	cluster string // namespace/name of its Kafka ("" when none of the build)
	spec    KafkaUserSpec
	secret  string // namespace/name of the generated Secret
}

// name is the user's name, which is its SCRAM principal (User:NAME).
func (u *kafkaUser) name() string { return u.obj.Name }

// allows lists the user's allow rules.
func (u *kafkaUser) allows() []KafkaACL {
	if u.spec.Authorization == nil {
		return nil
	}
	var out []KafkaACL
	for _, a := range u.spec.Authorization.ACLs {
		if a.Type == "" || a.Type == "allow" {
			out = append(out, a)
		}
	}
	return out
}

// Secret keys the User Operator writes, per authentication type.
var kafkaUserSecretKeys = map[string][]string{
	"scram-sha-512": {"password", "sasl.jaas.config"},
	"tls":           {"ca.crt", "user.crt", "user.key", "user.p12", "user.password"},
	"tls-external":  {},
}

// The Stratus topics (docs/contracts.md, Kafka topics), without --topic-prefix.
const (
	topicCanvas      = "stratus.canvas"
	topicPredictions = "stratus.predictions"
	topicSamples     = "stratus.samples"
	topicDeadLetter  = "stratus.deadletter"
)

// defaultStreamGroup is `stratus stream`'s --group default; its store branch
// reads the samples outbox as <group>-store (pipelines/stream).
const defaultStreamGroup = "stratus-stream"

// collectKafkaUsers decodes every KafkaUser strictly and models the Secret
// the User Operator writes for it (NAME, or the Kafka's
// entityOperator.userOperator.secretPrefix + NAME), so that the pods reading
// it resolve. A Secret of the build under that name is a conflict.
func (w *world) collectKafkaUsers() {
	for _, o := range w.objs {
		if o.GVK.Kind != "KafkaUser" {
			continue
		}
		u := &kafkaUser{obj: o}
		if err := decodeInto(path(o.Map, "spec"), &u.spec); err != nil {
			w.bad("%s: spec: %v", o.ID(), err)
			continue
		}
		cluster := str(o.Map, "metadata", "labels", "strimzi.io/cluster")
		k, ok := w.kafkas[key(o.Namespace, cluster)]
		if !ok {
			w.bad("%s: label strimzi.io/cluster %q names no Kafka of this build", o.ID(), cluster)
		} else {
			u.cluster = key(o.Namespace, cluster)
		}
		w.kafkaUsers = append(w.kafkaUsers, u)
		if u.spec.Authentication == nil {
			continue // no credentials: no Secret
		}
		prefix := ""
		if k != nil {
			prefix = str(k.Map, "spec", "entityOperator", "userOperator", "secretPrefix")
		}
		u.secret = key(o.Namespace, prefix+o.Name)
		if _, real := w.secrets[u.secret]; real {
			w.bad("%s: Secret %s is written by Strimzi's User Operator for this user; the build must not define it too", o.ID(), u.secret)
			continue
		}
		data := map[string][]byte{}
		for _, k := range kafkaUserSecretKeys[u.spec.Authentication.Type] {
			data[k] = nil
		}
		s := &corev1.Secret{Data: data}
		s.Name, s.Namespace = prefix+o.Name, o.Namespace
		w.secrets[u.secret] = s
		w.userSecrets[u.secret] = u
	}
}

// kafkaClient is a container that talks to Kafka as some principal: a
// `stratus serve` or `stratus stream` container, or a Flink task manager's
// Go worker pool (whose workers are the pipeline's).
type kafkaClient struct {
	id      string
	pod     *pod
	c       *corev1.Container
	command string // serve, stream, or "worker-pool"
}

// setting is a stratus flag's value in a container: --NAME=V or --NAME V in
// its args, else its STRATUS_* environment variable (a literal value, or
// the Secret reference it comes from).
func setting(c *corev1.Container, flagName string) (value string, ref *corev1.SecretKeySelector, ok bool) {
	args := append(append([]string{}, c.Command...), c.Args...)
	for i, a := range args {
		if v, found := strings.CutPrefix(a, "--"+flagName+"="); found {
			return v, nil, true
		}
		if a == "--"+flagName && i+1 < len(args) {
			return args[i+1], nil, true
		}
	}
	env := "STRATUS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	for _, e := range c.Env {
		if e.Name != env {
			continue
		}
		if e.ValueFrom != nil {
			return "", e.ValueFrom.SecretKeyRef, e.ValueFrom.SecretKeyRef != nil
		}
		return e.Value, nil, true
	}
	return "", nil, false
}

// kafkaClients finds the containers that connect to Kafka.
func (w *world) kafkaClients() []*kafkaClient {
	var out []*kafkaClient
	for _, p := range w.pods {
		for i := range p.spec.Containers {
			c := &p.spec.Containers[i]
			id := p.owner + " container " + c.Name
			args := append(append([]string{}, c.Command...), c.Args...)
			switch {
			case p.role == "taskmanager" && slices.Contains(args, "--worker_pool"):
				out = append(out, &kafkaClient{id: id, pod: p, c: c, command: "worker-pool"})
			case len(c.Args) > 0 && (c.Args[0] == "serve" || c.Args[0] == "stream"):
				out = append(out, &kafkaClient{id: id, pod: p, c: c, command: c.Args[0]})
			}
		}
	}
	return out
}

// userOf resolves the KafkaUser a client logs in as, checking its wiring:
// the SASL mechanism its listener wants, a user name that is a KafkaUser of
// that Kafka, and the password from that user's generated Secret (not a
// literal, not another user's).
func (w *world) userOf(cl *kafkaClient) *kafkaUser {
	addr, _, _ := setting(cl.c, "kafka")
	var kafka *Object
	var listener map[string]any
	for _, a := range strings.Split(addr, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(a))
		if err != nil {
			continue
		}
		parts := strings.Split(host, ".")
		ns := cl.pod.namespace
		if len(parts) > 1 {
			ns = parts[1]
		}
		name, found := strings.CutSuffix(parts[0], "-kafka-bootstrap")
		if !found {
			continue
		}
		k, ok := w.kafkas[key(ns, name)]
		if !ok {
			continue // checkAddresses reports a Service that does not exist
		}
		kafka = k
		ls, _ := path(k.Map, "spec", "kafka", "listeners").([]any)
		for _, l := range ls {
			lm, _ := l.(map[string]any)
			if n, _ := num(lm, "port"); fmt.Sprint(n) == port {
				listener = lm
			}
		}
	}
	if kafka == nil || listener == nil {
		w.bad("%s: --kafka/STRATUS_KAFKA %q is no listener of a Strimzi Kafka of this build", cl.id, addr)
		return nil
	}
	auth := str(listener, "authentication", "type")
	if auth != "scram-sha-512" {
		w.bad("%s: listener %s of %s authenticates with %q; Stratus's clients are wired for scram-sha-512 only", cl.id, str(listener, "name"), kafka.ID(), auth)
		return nil
	}
	if mech, _, _ := setting(cl.c, "kafka-sasl"); mech != "scram-sha-512" {
		w.bad("%s: listener %s wants SCRAM-SHA-512: set STRATUS_KAFKA_SASL=scram-sha-512 (it is %q)", cl.id, str(listener, "name"), mech)
	}
	name, ref, ok := setting(cl.c, "kafka-user")
	if !ok || ref != nil || name == "" {
		w.bad("%s: STRATUS_KAFKA_USER must name its KafkaUser (a literal value)", cl.id)
		return nil
	}
	var u *kafkaUser
	for _, x := range w.kafkaUsers {
		if x.obj.Namespace == cl.pod.namespace && x.name() == name && x.cluster == key(kafka.Namespace, kafka.Name) {
			u = x
		}
	}
	if u == nil {
		w.bad("%s: STRATUS_KAFKA_USER %q is no KafkaUser of %s", cl.id, name, kafka.ID())
		return nil
	}
	w.checkPassword(cl, u)
	return u
}

// checkPassword wants STRATUS_KAFKA_PASSWORD from key "password" of the
// Secret the User Operator writes for u.
func (w *world) checkPassword(cl *kafkaClient, u *kafkaUser) {
	if _, _, isFile := setting(cl.c, "kafka-password-file"); isFile {
		w.bad("%s: read the Kafka password from STRATUS_KAFKA_PASSWORD (the pipeline's workers get it the same way), not a file", cl.id)
		return
	}
	_, ref, ok := setting(cl.c, "kafka-password")
	switch {
	case !ok:
		w.bad("%s: no STRATUS_KAFKA_PASSWORD: it logs in as %s without a password", cl.id, u.name())
	case ref == nil:
		w.bad("%s: STRATUS_KAFKA_PASSWORD is a literal; take it from Secret %s (key password)", cl.id, u.secret)
	case key(cl.pod.namespace, ref.Name) != u.secret || ref.Key != "password":
		owner := "a Secret no KafkaUser writes"
		if other, ok := w.userSecrets[key(cl.pod.namespace, ref.Name)]; ok {
			owner = "KafkaUser " + other.name() + "'s Secret"
		}
		w.bad("%s: STRATUS_KAFKA_PASSWORD comes from %s/%s (%s), not from %s key password, the Secret of its user %s", cl.id, ref.Name, ref.Key, owner, u.secret, u.name())
	}
}

// kafkaRoles are the principals the Stratus components log in as.
type kafkaRoles struct {
	pipeline, frontend *kafkaUser
	prefix             string   // --topic-prefix of the pipeline
	groups             []string // the pipeline's consumer groups
}

// topic is a Stratus topic's name under the deployment's prefix.
func (r *kafkaRoles) topic(base string) string { return r.prefix + base }

// checkKafkaAccess: every Kafka authorizes (simple) every client, which
// logs in (every listener authenticates); no super user, no
// allow.everyone.if.no.acl.found; every KafkaUser belongs to a Kafka with a
// User Operator and a listener for its mechanism; each ACL names an existing
// topic or a group the pipeline uses; each client is wired to its
// KafkaUser's Secret; and the policy of issue 13: only the pipeline's user
// writes stratus.predictions, stratus.samples and stratus.deadletter, only
// the frontends' user reads stratus.predictions, and each has what it needs.
func (w *world) checkKafkaAccess() {
	for _, k := range w.kafkas {
		w.checkKafkaAuthorizer(k)
	}
	r := w.kafkaRoles()
	topics := map[string]map[string]bool{} // cluster → topic names
	for _, o := range w.objs {
		if o.GVK.Kind != "KafkaTopic" {
			continue
		}
		name := str(o.Map, "spec", "topicName")
		if name == "" {
			name = o.Name
		}
		c := key(o.Namespace, str(o.Map, "metadata", "labels", "strimzi.io/cluster"))
		if topics[c] == nil {
			topics[c] = map[string]bool{}
		}
		topics[c][name] = true
	}
	for _, u := range w.kafkaUsers {
		w.checkKafkaUser(u, topics[u.cluster], r)
	}
	if r == nil {
		return
	}
	for _, need := range []struct {
		who   *kafkaUser
		what  string
		op    string
		rtype string
		name  string
	}{
		{r.pipeline, "the pipeline reads canvas events", "Read", "topic", r.topic(topicCanvas)},
		{r.pipeline, "the pipeline writes answers", "Write", "topic", r.topic(topicPredictions)},
		{r.pipeline, "the pipeline writes the samples outbox", "Write", "topic", r.topic(topicSamples)},
		{r.pipeline, "the pipeline's store branch reads the samples outbox", "Read", "topic", r.topic(topicSamples)},
		{r.pipeline, "the pipeline writes dead letters", "Write", "topic", r.topic(topicDeadLetter)},
		{r.pipeline, "the pipeline fetches and commits its offsets", "Read", "group", r.groups[0]},
		{r.pipeline, "the store branch fetches and commits its offsets", "Read", "group", r.groups[1]},
		{r.frontend, "the frontends write canvas events", "Write", "topic", r.topic(topicCanvas)},
		{r.frontend, "the frontends read the answers", "Read", "topic", r.topic(topicPredictions)},
	} {
		if need.who != nil && !grants(need.who, need.op, need.rtype, need.name) {
			w.bad("%s: needs %s on %s %s (%s); the broker would refuse it", need.who.obj.ID(), need.op, need.rtype, need.name, need.what)
		}
	}
}

// checkKafkaAuthorizer: simple authorization, no super users, nothing
// allowed without an ACL, and a login on every listener.
func (w *world) checkKafkaAuthorizer(k *Object) {
	if t := str(k.Map, "spec", "kafka", "authorization", "type"); t != "simple" {
		w.bad("%s: spec.kafka.authorization.type must be simple (Kafka's ACLs decide who may write answers), is %q", k.ID(), t)
	}
	if su, _ := path(k.Map, "spec", "kafka", "authorization", "superUsers").([]any); len(su) > 0 {
		w.bad("%s: superUsers %v may write stratus.predictions and stratus.samples; no Stratus principal needs to be a super user", k.ID(), su)
	}
	switch v := path(k.Map, "spec", "kafka", "config", "allow.everyone.if.no.acl.found").(type) {
	case nil:
	case bool:
		if v {
			w.bad("%s: allow.everyone.if.no.acl.found lets any principal without an ACL do anything", k.ID())
		}
	default:
		if !strings.EqualFold(fmt.Sprint(v), "false") {
			w.bad("%s: allow.everyone.if.no.acl.found lets any principal without an ACL do anything", k.ID())
		}
	}
	ls, _ := path(k.Map, "spec", "kafka", "listeners").([]any)
	for _, l := range ls {
		lm, _ := l.(map[string]any)
		if str(lm, "authentication", "type") == "" {
			w.bad("%s: listener %s has no authentication: its clients would all be User:ANONYMOUS", k.ID(), str(lm, "name"))
		}
	}
	if path(k.Map, "spec", "entityOperator", "userOperator") == nil {
		w.bad("%s: needs spec.entityOperator.userOperator: nothing else makes the KafkaUsers' credentials and ACLs", k.ID())
	}
}

// kafkaRoles finds the pipeline's and the frontends' users from the
// workloads that run them, checks their wiring, and that each role has one
// user (and not the other's).
func (w *world) kafkaRoles() *kafkaRoles {
	r := &kafkaRoles{}
	users := map[string]map[*kafkaUser][]string{} // command → user → clients
	var pools []*kafkaClient
	prefixes := map[string]bool{}
	groups := map[string]bool{}
	for _, cl := range w.kafkaClients() {
		if cl.command == "worker-pool" {
			pools = append(pools, cl)
			continue
		}
		prefix, _, _ := setting(cl.c, "topic-prefix")
		prefixes[prefix] = true
		if cl.command == "stream" {
			r.prefix = prefix
			g, _, _ := setting(cl.c, "group")
			if g == "" {
				g = defaultStreamGroup
			}
			groups[g] = true
			r.groups = []string{g, g + "-store"}
		}
		u := w.userOf(cl)
		if u == nil {
			continue
		}
		if users[cl.command] == nil {
			users[cl.command] = map[*kafkaUser][]string{}
		}
		users[cl.command][u] = append(users[cl.command][u], cl.id)
	}
	if len(prefixes) > 1 || len(groups) > 1 {
		w.bad("the frontends and the pipeline must share one --topic-prefix and the pipeline one --group; got prefixes %v, groups %v", sortedKeys(prefixes), sortedKeys(groups))
	}
	one := func(command, role string) *kafkaUser {
		if len(users[command]) > 1 {
			var names []string
			for u, ids := range users[command] {
				names = append(names, u.name()+" ("+strings.Join(ids, ", ")+")")
			}
			sort.Strings(names)
			w.bad("the %s logs in as more than one KafkaUser: %s; give it one principal", role, strings.Join(names, "; "))
			return nil
		}
		for u := range users[command] {
			return u
		}
		return nil
	}
	r.pipeline, r.frontend = one("stream", "pipeline (stratus stream)"), one("serve", "frontend (stratus serve)")
	if r.pipeline != nil && r.pipeline == r.frontend {
		w.bad("%s: the pipeline and the frontends log in as the same user: the frontends could forge answers", r.pipeline.obj.ID())
	}
	for _, cl := range pools {
		if r.pipeline == nil {
			w.bad("%s: a worker pool, but no `stratus stream` logs in as a KafkaUser whose password it could have", cl.id)
			continue
		}
		// The workers log in as the user the pipeline names, with the
		// password from the pool's environment.
		w.checkPassword(cl, r.pipeline)
	}
	if r.pipeline == nil || r.frontend == nil {
		if len(users) > 0 {
			w.bad("need both a `stratus stream` and a `stratus serve` with a KafkaUser each (pipeline %v, frontend %v)", r.pipeline != nil, r.frontend != nil)
		}
		return nil
	}
	return r
}

// checkKafkaUser: the user's mechanism has a listener; each ACL names what
// exists and grants only what Stratus's clients use; the protected topics
// are written only by the pipeline and the answers read only by the
// frontends.
func (w *world) checkKafkaUser(u *kafkaUser, topics map[string]bool, r *kafkaRoles) {
	id := u.obj.ID()
	if u.cluster == "" {
		return // reported by collectKafkaUsers
	}
	k := w.kafkas[u.cluster]
	if a := u.spec.Authentication; a != nil {
		found := false
		ls, _ := path(k.Map, "spec", "kafka", "listeners").([]any)
		for _, l := range ls {
			lm, _ := l.(map[string]any)
			found = found || str(lm, "authentication", "type") == a.Type || a.Type == "tls-external"
		}
		if !found {
			w.bad("%s: authentication %s, but no listener of %s accepts it", id, a.Type, k.ID())
		}
		if a.Password != nil && a.Password.ValueFrom.SecretKeyRef != nil {
			ref := a.Password.ValueFrom.SecretKeyRef
			w.needSecret(id+" spec.authentication.password", u.obj.Namespace, ref.Name, ref.Key, ref.Optional)
		}
	}
	if u.spec.Authorization == nil {
		return
	}
	for i, a := range u.spec.Authorization.ACLs {
		rule := fmt.Sprintf("%s: acls[%d] (%s %s %q)", id, i, a.Resource.Type, patternOf(a), a.Resource.Name)
		if a.Type == "deny" {
			continue
		}
		for _, op := range a.Operations {
			if op == "All" {
				w.bad("%s: operation All grants everything (Write, Delete, Alter…); list the operations the client uses", rule)
			}
		}
		switch a.Resource.Type {
		case "topic":
			switch {
			case a.Resource.Name == "" || a.Resource.Name == "*":
				w.bad("%s: names every topic; name the Stratus topics one by one", rule)
			case patternOf(a) == "prefix":
				if !slices.ContainsFunc(sortedKeys(topics), func(t string) bool { return strings.HasPrefix(t, a.Resource.Name) }) {
					w.bad("%s: the prefix matches no KafkaTopic of %s", rule, k.ID())
				}
			case !topics[a.Resource.Name]:
				w.bad("%s: no KafkaTopic of %s has topicName %q (topics: %s)", rule, k.ID(), a.Resource.Name, joinSorted(sortedKeys(topics)))
			}
			for _, op := range a.Operations {
				if !slices.Contains([]string{"Read", "Write", "Describe"}, op) && op != "All" {
					w.bad("%s: operation %s on a topic: no Stratus client needs it", rule, op)
				}
			}
		case "group":
			if r == nil {
				continue
			}
			switch {
			case a.Resource.Name == "" || a.Resource.Name == "*" || patternOf(a) == "prefix":
				w.bad("%s: name the pipeline's consumer groups (%s) literally", rule, strings.Join(r.groups, ", "))
			case u != r.pipeline:
				w.bad("%s: only the pipeline's user (%s) uses consumer groups", rule, r.pipeline.name())
			case !slices.Contains(r.groups, a.Resource.Name):
				w.bad("%s: the pipeline's consumer groups are %s", rule, strings.Join(r.groups, ", "))
			}
			for _, op := range a.Operations {
				if op != "Read" && op != "Describe" && op != "All" {
					w.bad("%s: operation %s on a group: the pipeline only fetches and commits offsets (Read, Describe)", rule, op)
				}
			}
		default:
			w.bad("%s: a %s ACL; Stratus's clients need topics and groups only", rule, a.Resource.Type)
		}
	}
	if r == nil {
		return
	}
	// Issue 13: no forged answers, no relabelled samples.
	for _, t := range []string{topicPredictions, topicSamples, topicDeadLetter} {
		if u != r.pipeline && grants(u, "Write", "topic", r.topic(t)) {
			w.bad("%s: may write %s; only the pipeline's user %s may (a forged answer, a relabelled sample, a fake dead letter)", id, r.topic(t), r.pipeline.name())
		}
	}
	if u != r.frontend && grants(u, "Read", "topic", r.topic(topicPredictions)) {
		w.bad("%s: may read %s; only the frontends' user %s may (the answers are other people's)", id, r.topic(topicPredictions), r.frontend.name())
	}
}

// patternOf is an ACL's pattern type, literal by default.
func patternOf(a KafkaACL) string {
	if a.Resource.PatternType == "" {
		return "literal"
	}
	return a.Resource.PatternType
}

// matches reports whether an ACL's resource covers the named resource.
func matches(a KafkaACL, rtype, name string) bool {
	if a.Resource.Type != rtype {
		return false
	}
	if patternOf(a) == "prefix" {
		return strings.HasPrefix(name, a.Resource.Name)
	}
	return a.Resource.Name == name || a.Resource.Name == "*"
}

// grants reports whether one of u's allow rules grants op on the resource
// (All grants every operation; Read and Write imply Describe, as in Kafka).
func grants(u *kafkaUser, op, rtype, name string) bool {
	for _, a := range u.allows() {
		if !matches(a, rtype, name) {
			continue
		}
		for _, o := range a.Operations {
			if o == op || o == "All" || op == "Describe" && (o == "Read" || o == "Write") {
				return true
			}
		}
	}
	return false
}

// KafkaGrants lists what each KafkaUser of a build is allowed, one
// "User:NAME Operation resource:name[*]" line per operation and resource
// (a prefix rule ends in *), sorted: the whole ACL set, for tests that pin
// it.
func KafkaGrants(objs []*Object) []string {
	var out []string
	for _, o := range objs {
		if o.GVK.Kind != "KafkaUser" {
			continue
		}
		var spec KafkaUserSpec
		if err := decodeInto(path(o.Map, "spec"), &spec); err != nil || spec.Authorization == nil {
			continue
		}
		u := &kafkaUser{obj: o, spec: spec}
		for _, a := range u.allows() {
			name := a.Resource.Name
			if patternOf(a) == "prefix" {
				name += "*"
			}
			host := ""
			if a.Host != "" && a.Host != "*" {
				host = " from " + a.Host
			}
			for _, op := range a.Operations {
				out = append(out, fmt.Sprintf("User:%s %s %s:%s%s", o.Name, op, a.Resource.Type, name, host))
			}
		}
	}
	sort.Strings(out)
	return out
}
