package docker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"
)

// The Ansible playbook (deploy/ansible) grants the same Kafka ACLs as the
// compose file; its kafka role holds them in kafka_acls. deploy/check.sh
// renders its templates; this reads the role's variables and tasks and
// applies the same checks as to the compose file (CheckACLTable), so that
// a wrong grant fails here too.

// AnsibleKafka is what the playbook tells about Kafka's access control.
type AnsibleKafka struct {
	ACLs  []ACL
	Roles ACLRoles
	// Files are the contents of the templates that configure the broker
	// and the clients, by path under the playbook folder.
	Files map[string]string
}

// ansibleFiles are the files LoadAnsibleKafka reads, under the playbook.
var ansibleFiles = []string{
	"group_vars/all/main.yml",
	"roles/kafka/defaults/main.yml",
	"roles/kafka/tasks/main.yml",
	"roles/kafka/templates/server.properties.j2",
	"roles/stratus/templates/stream.env.j2",
	"roles/stratus/templates/frontend.env.j2",
	"roles/flink/templates/beam-worker-pool.env.j2",
}

var jinjaVar = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// LoadAnsibleKafka reads the playbook in dir: the ACL table (kafka_acls,
// its {{ variables }} resolved from group_vars/all and the role's
// defaults), the topics and SCRAM users its tasks create, and the users the
// pipeline and the frontends log in as.
func LoadAnsibleKafka(dir string) (*AnsibleKafka, error) {
	a := &AnsibleKafka{Files: map[string]string{}}
	for _, f := range ansibleFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		a.Files[f] = string(b)
	}
	vars := map[string]any{}
	for _, f := range []string{"group_vars/all/main.yml", "roles/kafka/defaults/main.yml"} {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(a.Files[f]), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for k, v := range m {
			vars[k] = v
		}
	}
	var errs []error
	resolve := func(s string) string {
		return jinjaVar.ReplaceAllStringFunc(s, func(m string) string {
			name := jinjaVar.FindStringSubmatch(m)[1]
			v, ok := vars[name].(string)
			if !ok {
				errs = append(errs, fmt.Errorf("{{ %s }} is no string variable of group_vars/all or the kafka role's defaults", name))
			}
			return v
		})
	}
	str := func(k string) string { s, _ := vars[k].(string); return resolve(s) }

	var table []struct {
		User       string   `yaml:"user"`
		Type       string   `yaml:"type"`
		Name       string   `yaml:"name"`
		Operations []string `yaml:"operations"`
	}
	b, _ := yaml.Marshal(vars["kafka_acls"])
	if err := yaml.Load(b, &table, yaml.WithKnownFields()); err != nil {
		return nil, fmt.Errorf("kafka_acls: %w", err)
	}
	for _, r := range table {
		a.ACLs = append(a.ACLs, ACL{User: resolve(r.User), ResourceType: r.Type, Name: resolve(r.Name), Operations: r.Operations})
	}

	// The tasks: the topics and the SCRAM users they create.
	var tasks []map[string]any
	if err := yaml.Unmarshal([]byte(a.Files["roles/kafka/tasks/main.yml"]), &tasks); err != nil {
		return nil, fmt.Errorf("roles/kafka/tasks/main.yml: %w", err)
	}
	a.Roles.Topics = map[string]bool{}
	for _, t := range tasks {
		loop, _ := t["loop"].([]any)
		for _, it := range loop {
			m, _ := it.(map[string]any)
			name, _ := m["name"].(string)
			switch t["name"] {
			case "Create the Stratus topics":
				a.Roles.Topics[resolve(name)] = true
			case "SCRAM users":
				a.Roles.Users = append(a.Roles.Users, resolve(name))
			}
		}
	}
	a.Roles.Pipeline = str("stratus_kafka_stream_user")
	a.Roles.Frontend = str("stratus_kafka_frontend_user")
	group := str("stratus_stream_group")
	a.Roles.Groups = []string{group, group + "-store"}
	return a, errors.Join(errs...)
}

// CheckAnsibleKafka checks the playbook's Kafka access control like the
// compose file's: the brokers authorize every request and take SASL logins
// only, the admin is the one super user, the pipeline's and the frontends'
// env files log in as their users with their passwords (the worker pool
// with the pipeline's), and the ACL table passes CheckACLTable.
func CheckAnsibleKafka(a *AnsibleKafka) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	props := map[string]string{}
	for _, line := range strings.Split(a.Files["roles/kafka/templates/server.properties.j2"], "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			props[k] = v
		}
	}
	const srv = "roles/kafka/templates/server.properties.j2"
	if props["authorizer.class.name"] != StandardAuthorizer {
		bad("%s: authorizer.class.name must be %s", srv, StandardAuthorizer)
	}
	if props["allow.everyone.if.no.acl.found"] != "false" {
		bad("%s: allow.everyone.if.no.acl.found must be false", srv)
	}
	if props["super.users"] != "User:{{ kafka_admin_user }}" {
		bad("%s: super.users must be the admin alone (User:{{ kafka_admin_user }}), is %q", srv, props["super.users"])
	}
	for _, e := range strings.Split(props["listener.security.protocol.map"], ",") {
		if name, proto, _ := strings.Cut(e, ":"); proto != "SASL_PLAINTEXT" && proto != "SASL_SSL" {
			bad("%s: listener %s is %q: every listener must take SASL logins only", srv, name, proto)
		}
	}
	if props["listener.name.client.sasl.enabled.mechanisms"] != "SCRAM-SHA-512" {
		bad("%s: the CLIENT listener must take SCRAM-SHA-512", srv)
	}
	for _, c := range []struct{ file, user, password string }{
		{"roles/stratus/templates/stream.env.j2", "{{ stratus_kafka_stream_user }}", "{{ kafka_stream_password }}"},
		{"roles/stratus/templates/frontend.env.j2", "{{ stratus_kafka_frontend_user }}", "{{ kafka_frontend_password }}"},
		{"roles/flink/templates/beam-worker-pool.env.j2", "", "{{ kafka_stream_password }}"},
	} {
		env := map[string]string{}
		for _, line := range strings.Split(a.Files[c.file], "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				env[k] = v
			}
		}
		if c.user != "" && (env["STRATUS_KAFKA_USER"] != c.user || env["STRATUS_KAFKA_SASL"] != "scram-sha-512") {
			bad("%s: must log in with scram-sha-512 as %s", c.file, c.user)
		}
		if env["STRATUS_KAFKA_PASSWORD"] != c.password {
			bad("%s: STRATUS_KAFKA_PASSWORD must be %s", c.file, c.password)
		}
	}
	users := append([]string{}, a.Roles.Users...)
	sort.Strings(users)
	if !slices.Equal(users, sortedStrings(a.Roles.Pipeline, a.Roles.Frontend)) {
		bad("roles/kafka/tasks/main.yml: the SCRAM users task must create %s and %s, creates %v", a.Roles.Pipeline, a.Roles.Frontend, users)
	}
	if a.Roles.Pipeline == "" || a.Roles.Pipeline == a.Roles.Frontend {
		bad("the pipeline (%q) and the frontends (%q) must log in as two different users", a.Roles.Pipeline, a.Roles.Frontend)
	}
	errs = append(errs, CheckACLTable(a.ACLs, a.Roles, "ansible kafka_acls")...)
	return errors.Join(errs...)
}

// AnsibleKafkaGrants lists the playbook's grants like ComposeKafkaGrants.
func AnsibleKafkaGrants(a *AnsibleKafka) []string {
	var out []string
	for _, r := range a.ACLs {
		for _, op := range r.Operations {
			out = append(out, fmt.Sprintf("User:%s %s %s:%s", r.User, op, r.ResourceType, r.Name))
		}
	}
	sort.Strings(out)
	return out
}

func sortedStrings(xs ...string) []string {
	sort.Strings(xs)
	return xs
}
