package docker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ansibleDir is the playbook, beside this folder.
const ansibleDir = "../ansible"

// TestAnsibleKafkaACLs: the playbook's kafka role grants exactly what the
// compose file grants, and its brokers and clients pass the same checks.
func TestAnsibleKafkaACLs(t *testing.T) {
	a, err := LoadAnsibleKafka(ansibleDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAnsibleKafka(a); err != nil {
		t.Fatalf("deploy/ansible:\n%v", err)
	}
	got := AnsibleKafkaGrants(a)
	if strings.Join(got, "\n") != strings.Join(wantComposeGrants, "\n") {
		t.Errorf("ansible kafka_acls grant:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantComposeGrants, "\n  "))
	}
}

// TestAnsibleKafkaRejects breaks a copy of the playbook's files in one place
// at a time and expects CheckAnsibleKafka (or the loading) to say so.
func TestAnsibleKafkaRejects(t *testing.T) {
	const (
		defaults = "roles/kafka/defaults/main.yml"
		server   = "roles/kafka/templates/server.properties.j2"
		frontPW  = `{user: "{{ stratus_kafka_frontend_user }}", type: topic, name: stratus.predictions, operations: [Read, Describe]}`
	)
	tests := []struct{ name, file, old, new, want string }{
		{"frontend writes answers", defaults, frontPW, `{user: "{{ stratus_kafka_frontend_user }}", type: topic, name: stratus.predictions, operations: [Read, Write, Describe]}`, "User:stratus-frontend may write stratus.predictions"},
		{"third user writes samples", defaults, frontPW, frontPW + "\n  - {user: ops, type: topic, name: stratus.samples, operations: [Write]}", "User:ops may write stratus.samples"},
		{"pipeline reads answers", defaults, "name: stratus.predictions, operations: [Write, Describe]", "name: stratus.predictions, operations: [Read, Write, Describe]", "User:stratus-stream may read stratus.predictions"},
		{"frontend gets the pipeline's group", defaults, frontPW, frontPW + "\n  - {user: \"{{ stratus_kafka_frontend_user }}\", type: group, name: stratus-stream, operations: [Read]}", "only the pipeline's user (stratus-stream) uses consumer groups"},
		{"pipeline misses its store group", defaults, "  - {user: \"{{ stratus_kafka_stream_user }}\", type: group, name: \"{{ stratus_stream_group }}-store\", operations: [Read, Describe]}\n", "", "needs Read on group stratus-stream-store"},
		{"misspelt acl field", defaults, "operations: [Write, Describe]}", "operation: [Write, Describe]}", "operation"},
		{"no authorizer", server, "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n", "", "authorizer.class.name must be"},
		{"allow everyone", server, "allow.everyone.if.no.acl.found=false", "allow.everyone.if.no.acl.found=true", "allow.everyone.if.no.acl.found must be false"},
		{"frontend a super user", server, "super.users=User:{{ kafka_admin_user }}", "super.users=User:{{ kafka_admin_user }};User:stratus-frontend", "super.users must be the admin alone"},
		{"plaintext listener", server, "CLIENT:SASL_PLAINTEXT", "CLIENT:PLAINTEXT", `listener CLIENT is "PLAINTEXT"`},
		{"frontend logs in as the pipeline", "roles/stratus/templates/frontend.env.j2", "STRATUS_KAFKA_USER={{ stratus_kafka_frontend_user }}", "STRATUS_KAFKA_USER={{ stratus_kafka_stream_user }}", "frontend.env.j2: must log in with scram-sha-512 as {{ stratus_kafka_frontend_user }}"},
		{"worker pool with the frontend's password", "roles/flink/templates/beam-worker-pool.env.j2", "{{ kafka_stream_password }}", "{{ kafka_frontend_password }}", "beam-worker-pool.env.j2: STRATUS_KAFKA_PASSWORD must be {{ kafka_stream_password }}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range ansibleFiles {
				b, err := os.ReadFile(filepath.Join(ansibleDir, f))
				if err != nil {
					t.Fatal(err)
				}
				src := string(b)
				if f == tt.file {
					if !strings.Contains(src, tt.old) {
						t.Fatalf("test bug: %q not in %s", tt.old, f)
					}
					src = strings.Replace(src, tt.old, tt.new, 1)
				}
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			a, err := LoadAnsibleKafka(dir)
			if err == nil {
				err = CheckAnsibleKafka(a)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want a problem mentioning %q, got: %v", tt.want, err)
			}
		})
	}
}
