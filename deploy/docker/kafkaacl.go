package docker

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// The Stratus topics (docs/contracts.md, Kafka topics), without --topic-prefix.
const (
	topicCanvas      = "stratus.canvas"
	topicPredictions = "stratus.predictions"
	topicSamples     = "stratus.samples"
	topicDeadLetter  = "stratus.deadletter"
)

// StandardAuthorizer is Kafka's ACL authorizer in KRaft mode.
const StandardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

// ACL is one allow rule of the kafka-init service's STRATUS_KAFKA_ACLS:
// USER RESOURCE OPERATIONS, the resource topic:NAME or group:NAME.
type ACL struct {
	User         string
	ResourceType string // topic or group
	Name         string
	Operations   []string
}

// grants reports whether the rule allows op on the resource (Read and
// Write imply Describe, as in Kafka).
func (a ACL) grants(op, rtype, name string) bool {
	if a.ResourceType != rtype || a.Name != name {
		return false
	}
	for _, o := range a.Operations {
		if o == op || o == "All" || op == "Describe" && (o == "Read" || o == "Write") {
			return true
		}
	}
	return false
}

// ParseACLs reads STRATUS_KAFKA_ACLS (what kafka-init.sh reads).
func ParseACLs(table string) ([]ACL, error) {
	var out []ACL
	var errs []error
	for n, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			errs = append(errs, fmt.Errorf("STRATUS_KAFKA_ACLS line %d: want USER RESOURCE OPERATIONS, got %q", n+1, line))
			continue
		}
		rtype, name, ok := strings.Cut(f[1], ":")
		if !ok || name == "" || (rtype != "topic" && rtype != "group") {
			errs = append(errs, fmt.Errorf("STRATUS_KAFKA_ACLS line %d: resource %q: want topic:NAME or group:NAME", n+1, f[1]))
			continue
		}
		out = append(out, ACL{User: f[0], ResourceType: rtype, Name: name, Operations: strings.Split(f[2], ",")})
	}
	return out, errors.Join(errs...)
}

// ComposeKafkaGrants lists every grant of the project's ACL table, one
// "User:NAME Operation resource:name" line each, sorted.
func ComposeKafkaGrants(p *types.Project) ([]string, error) {
	acls, err := ParseACLs(envValue(p.Services["kafka-init"], "STRATUS_KAFKA_ACLS"))
	var out []string
	for _, a := range acls {
		for _, op := range a.Operations {
			out = append(out, fmt.Sprintf("User:%s %s %s:%s", a.User, op, a.ResourceType, a.Name))
		}
	}
	sort.Strings(out)
	return out, err
}

// envValue is a service's inline environment variable ("" when unset).
func envValue(s types.ServiceConfig, k string) string {
	if v := s.Environment[k]; v != nil {
		return *v
	}
	return ""
}

// listenerProtocols maps each listener name of the kafka service to its
// security protocol (KAFKA_LISTENER_SECURITY_PROTOCOL_MAP).
func listenerProtocols(k types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for _, e := range strings.Split(envValue(k, "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"), ",") {
		if name, proto, ok := strings.Cut(strings.TrimSpace(e), ":"); ok {
			out[name] = proto
		}
	}
	return out
}

// listenerOfPort is the name of the kafka service's listener on port
// ("" when none).
func listenerOfPort(k types.ServiceConfig, port string) string {
	for _, l := range strings.Split(envValue(k, "KAFKA_LISTENERS"), ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(l), "://")
		if ok && strings.HasSuffix(addr, ":"+port) {
			return name
		}
	}
	return ""
}

// mechanisms are the SASL mechanisms a listener enables.
func mechanisms(k types.ServiceConfig, listener string) []string {
	v := envValue(k, "KAFKA_LISTENER_NAME_"+strings.ToUpper(listener)+"_SASL_ENABLED_MECHANISMS")
	if v == "" {
		v = envValue(k, "KAFKA_SASL_ENABLED_MECHANISMS")
	}
	if v == "" {
		v = "GSSAPI" // Kafka's default
	}
	return strings.Split(v, ",")
}

// userPasswordVar is kafka-init.sh's variable for a SCRAM user's password.
func userPasswordVar(user string) string {
	return "SCRAM_PASSWORD_" + strings.ToUpper(strings.ReplaceAll(user, "-", "_"))
}

// CheckKafkaACLs checks the broker's security and the ACL set of issue 13
// ("no forged answers"), with envs the merged .example values of each
// service's env files:
//   - the broker authorizes (StandardAuthorizer), allows nothing without an
//     ACL, has one super user (admin, whose PLAIN login the broker and
//     kafka-init share) and every listener takes SASL logins only;
//   - kafka-init runs kafka-init.sh with the topics, users and ACLs;
//   - every stratus client logs in on a listener that enables its
//     mechanism, as a user kafka-init creates, with that user's password
//     (the placeholders agree), and the worker pool has the pipeline's;
//   - each ACL names an existing topic, or a consumer group of the pipeline
//     (for the pipeline only), with Read, Write or Describe;
//   - only the pipeline's user may write stratus.predictions,
//     stratus.samples and stratus.deadletter; only the frontends' user may
//     read stratus.predictions; and each has what it uses.
func CheckKafkaACLs(p *types.Project, envs map[string]map[string]string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	k, init := p.Services["kafka"], p.Services["kafka-init"]

	// The broker.
	if v := envValue(k, "KAFKA_AUTHORIZER_CLASS_NAME"); v != StandardAuthorizer {
		bad("kafka: KAFKA_AUTHORIZER_CLASS_NAME must be %s (ACLs decide who may write answers), is %q", StandardAuthorizer, v)
	}
	if v := envValue(k, "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"); v != "" && !strings.EqualFold(v, "false") {
		bad("kafka: KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND=%s lets any principal without an ACL do anything", v)
	}
	if v := envValue(k, "KAFKA_SUPER_USERS"); v != "User:admin" {
		bad("kafka: KAFKA_SUPER_USERS must be User:admin alone (the broker's and kafka-init's login), is %q", v)
	}
	protocols := listenerProtocols(k)
	for _, l := range strings.Split(envValue(k, "KAFKA_LISTENERS"), ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(l), "://")
		if proto := protocols[name]; proto != "SASL_PLAINTEXT" && proto != "SASL_SSL" {
			bad("kafka: listener %s is %q: every listener must take SASL logins only (else its clients are User:ANONYMOUS)", name, proto)
		}
	}
	admin := envs["kafka"]["KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG"]
	if !strings.Contains(admin, `username="admin"`) || admin != envs["kafka"]["KAFKA_LISTENER_NAME_CONTROLLER_PLAIN_SASL_JAAS_CONFIG"] {
		bad("kafka: kafka.env must give listeners BROKER and CONTROLLER the same PLAIN login of username=\"admin\"")
	}
	if envs["kafka-init"]["KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG"] != admin {
		bad("kafka-init: needs kafka.env (the admin's login)")
	}

	// kafka-init: what it runs and on what.
	if !slices.Contains(init.Entrypoint, "/stratus/kafka-init.sh") {
		bad("kafka-init: must run /stratus/kafka-init.sh, runs %q", init.Entrypoint)
	}
	if m, ok := mountOf(init, "/stratus/kafka-init.sh"); !ok || filepath.Base(m.Source) != "kafka-init.sh" || !fileExists(m.Source) {
		bad("kafka-init: must mount deploy/docker/kafka-init.sh at /stratus/kafka-init.sh")
	}
	if init.DependsOn["kafka"].Condition != types.ServiceConditionHealthy {
		bad("kafka-init: must wait for kafka to be healthy")
	}
	if l := listenerOfPort(k, portOf(envValue(init, "KAFKA_ADMIN_BOOTSTRAP"))); l == "" || !slices.Contains(mechanisms(k, l), "PLAIN") {
		bad("kafka-init: KAFKA_ADMIN_BOOTSTRAP %q must be a listener of kafka with PLAIN (the admin's login)", envValue(init, "KAFKA_ADMIN_BOOTSTRAP"))
	}
	topics := map[string]bool{}
	for _, spec := range strings.Fields(envValue(init, "STRATUS_KAFKA_TOPICS")) {
		name, _, _ := strings.Cut(spec, ":")
		topics[name] = true
	}
	users := strings.Fields(envValue(init, "STRATUS_KAFKA_USERS"))
	for _, u := range users {
		if envs["kafka-init"][userPasswordVar(u)] == "" {
			bad("kafka-init: no %s in its env files for user %s", userPasswordVar(u), u)
		}
	}

	// The clients: who logs in as whom, with which password.
	var pipeline, frontend, prefix string
	frontends := map[string][]string{}
	groups := []string{"stratus-stream", "stratus-stream-store"}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if len(s.Command) == 0 || (s.Command[0] != "serve" && s.Command[0] != "stream") {
			continue
		}
		addr, _ := flagValue(s.Command, "--kafka")
		host, port, _ := strings.Cut(addr, ":")
		l := listenerOfPort(k, port)
		mech, _ := flagValue(s.Command, "--kafka-sasl")
		user, _ := flagValue(s.Command, "--kafka-user")
		switch {
		case host != "kafka" || l == "":
			bad("%s: --kafka=%s is no listener of the kafka service", name, addr)
		case !slices.Contains(mechanisms(k, l), strings.ToUpper(mech)):
			bad("%s: --kafka-sasl=%s, but listener %s enables %v", name, mech, l, mechanisms(k, l))
		}
		if !slices.Contains(users, user) {
			bad("%s: --kafka-user=%q is none of kafka-init's users %v", name, user, users)
		} else if pw := envs[name]["STRATUS_KAFKA_PASSWORD"]; pw == "" || pw != envs["kafka-init"][userPasswordVar(user)] {
			bad("%s: STRATUS_KAFKA_PASSWORD in its env files must be %s's password (%s in kafka-init's)", name, user, userPasswordVar(user))
		}
		pfx, _ := flagValue(s.Command, "--topic-prefix")
		if s.Command[0] == "stream" {
			pipeline, prefix = user, pfx
			if g, ok := flagValue(s.Command, "--group"); ok {
				groups = []string{g, g + "-store"}
			}
		} else {
			frontend = user
			frontends[user] = append(frontends[user], name)
			if pfx != "" {
				bad("%s: --topic-prefix differs from the pipeline's", name)
			}
		}
	}
	if len(frontends) > 1 {
		bad("the frontends log in as more than one user: %v", frontends)
	}
	if pipeline == "" || frontend == "" || pipeline == frontend {
		bad("the pipeline (%q) and the frontends (%q) must log in as two different users: the frontends could forge answers", pipeline, frontend)
		return errors.Join(errs...)
	}
	if pw := envs["beam-worker-pool"]["STRATUS_KAFKA_PASSWORD"]; pw == "" || pw != envs["stream"]["STRATUS_KAFKA_PASSWORD"] {
		bad("beam-worker-pool: its workers log in as %s: needs STRATUS_KAFKA_PASSWORD from stream.env", pipeline)
	}

	// The ACL table.
	acls, err := ParseACLs(envValue(init, "STRATUS_KAFKA_ACLS"))
	if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, CheckACLTable(acls, ACLRoles{Pipeline: pipeline, Frontend: frontend, Prefix: prefix, Groups: groups, Users: users, Topics: topics}, "kafka-init")...)
	return errors.Join(errs...)
}

// ACLRoles is what an ACL table is checked against: the pipeline's and the
// frontends' users, the topic prefix, the pipeline's consumer groups (its
// --group and <group>-store), the users that exist and the topics.
type ACLRoles struct {
	Pipeline, Frontend, Prefix string
	Groups, Users              []string
	Topics                     map[string]bool
}

// CheckACLTable checks an ACL table (where names it in messages): each rule
// names an existing user and topic, or a consumer group of the pipeline
// (for the pipeline only), with Read, Write or Describe; only the
// pipeline's user may write stratus.predictions, stratus.samples and
// stratus.deadletter; only the frontends' user may read
// stratus.predictions; and each has what it uses.
func CheckACLTable(acls []ACL, r ACLRoles, where string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, a := range acls {
		rule := fmt.Sprintf("%s: ACL %s %s:%s %s", where, a.User, a.ResourceType, a.Name, strings.Join(a.Operations, ","))
		if !slices.Contains(r.Users, a.User) {
			bad("%s: %s is none of its users %v", rule, a.User, r.Users)
		}
		allowed := []string{"Read", "Write", "Describe"}
		switch {
		case a.ResourceType == "topic" && !r.Topics[a.Name]:
			bad("%s: no topic %q among the topics it creates", rule, a.Name)
		case a.ResourceType == "group" && a.User != r.Pipeline:
			bad("%s: only the pipeline's user (%s) uses consumer groups", rule, r.Pipeline)
		case a.ResourceType == "group" && !slices.Contains(r.Groups, a.Name):
			bad("%s: the pipeline's consumer groups are %s", rule, strings.Join(r.Groups, ", "))
		}
		if a.ResourceType == "group" {
			allowed = []string{"Read", "Describe"}
		}
		for _, op := range a.Operations {
			if !slices.Contains(allowed, op) {
				bad("%s: operation %s: Stratus's clients need only %s on a %s", rule, op, strings.Join(allowed, ", "), a.ResourceType)
			}
		}
	}
	can := func(user, op, rtype, name string) bool {
		return slices.ContainsFunc(acls, func(a ACL) bool { return a.User == user && a.grants(op, rtype, name) })
	}
	// Issue 13: no forged answers, no relabelled samples.
	principals := map[string]bool{}
	for _, a := range acls {
		principals[a.User] = true
	}
	for _, u := range sortedKeys(principals) {
		for _, t := range []string{topicPredictions, topicSamples, topicDeadLetter} {
			if u != r.Pipeline && can(u, "Write", "topic", r.Prefix+t) {
				bad("%s: User:%s may write %s; only the pipeline's user %s may (a forged answer, a relabelled sample, a fake dead letter)", where, u, r.Prefix+t, r.Pipeline)
			}
		}
		if u != r.Frontend && can(u, "Read", "topic", r.Prefix+topicPredictions) {
			bad("%s: User:%s may read %s; only the frontends' user %s may (the answers are other people's)", where, u, r.Prefix+topicPredictions, r.Frontend)
		}
	}
	for _, need := range []struct{ user, op, rtype, name, what string }{
		{r.Pipeline, "Read", "topic", r.Prefix + topicCanvas, "the pipeline reads canvas events"},
		{r.Pipeline, "Write", "topic", r.Prefix + topicPredictions, "the pipeline writes answers"},
		{r.Pipeline, "Write", "topic", r.Prefix + topicSamples, "the pipeline writes the samples outbox"},
		{r.Pipeline, "Read", "topic", r.Prefix + topicSamples, "the store branch reads the samples outbox"},
		{r.Pipeline, "Write", "topic", r.Prefix + topicDeadLetter, "the pipeline writes dead letters"},
		{r.Pipeline, "Read", "group", r.Groups[0], "the pipeline fetches and commits its offsets"},
		{r.Pipeline, "Read", "group", r.Groups[1], "the store branch fetches and commits its offsets"},
		{r.Frontend, "Write", "topic", r.Prefix + topicCanvas, "the frontends write canvas events"},
		{r.Frontend, "Read", "topic", r.Prefix + topicPredictions, "the frontends read the answers"},
	} {
		if !can(need.user, need.op, need.rtype, need.name) {
			bad("%s: User:%s needs %s on %s %s (%s); the broker would refuse it", where, need.user, need.op, need.rtype, need.name, need.what)
		}
	}
	return errs
}

// portOf is the port of host:port ("" when none).
func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}

// sortedKeys lists a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
