package docker

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at the repository root %s: %v", root, err)
	}
	return root
}

func parseFile(t *testing.T, path string) *Dockerfile {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDockerfile(src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

// TestDockerfile lints the real Dockerfile.
func TestDockerfile(t *testing.T) {
	d := parseFile(t, "Dockerfile")
	if err := LintDockerfile(d); err != nil {
		t.Fatalf("Dockerfile:\n%v", err)
	}
	if _, err := os.Stat("Dockerfile.dockerignore"); err != nil {
		t.Fatalf("Dockerfile.dockerignore (the build context's ignore file): %v", err)
	}
	ignore, _ := os.ReadFile("Dockerfile.dockerignore")
	for _, must := range []string{".git", "bin", "deploy/docker/*.env"} {
		if !slices.Contains(strings.Fields(string(ignore)), must) {
			t.Errorf("Dockerfile.dockerignore must exclude %s", must)
		}
	}
}

// TestLintDockerfileRejects proves that the lint catches what it promises to.
func TestLintDockerfileRejects(t *testing.T) {
	const good = `ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/stratus ./cmd/stratus
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/stratus /usr/local/bin/stratus
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/stratus"]
`
	tests := []struct {
		name, old, new, want string
	}{
		{"good", "", "", ""},
		{"root user", "USER 65532:65532", "USER root", "runs as root"},
		{"uid 0", "USER 65532:65532", "USER 0:0", "runs as root"},
		{"no user", "USER 65532:65532\n", "", "sets no USER"},
		{"named user", "USER 65532:65532", "USER nonroot", "numeric uid"},
		{"cgo", "CGO_ENABLED=0", "CGO_ENABLED=1", "CGO_ENABLED=0"},
		{"no cgo setting", "CGO_ENABLED=0 ", "", "CGO_ENABLED=0"},
		{"no trimpath", "-trimpath ", "", "-trimpath"},
		{"symbols kept", `-ldflags "-s -w"`, `-ldflags "-X main.v=1"`, `"-s -w"`},
		{"other package", "./cmd/stratus\n", "./cmd/other\n", "./cmd/stratus"},
		{"fat final image", "gcr.io/distroless/static-debian12:nonroot", "debian:12", "distroless"},
		{"old go", "GO_VERSION=1.26", "GO_VERSION=1.22", "golang:1.26"},
		{"shell entrypoint", `ENTRYPOINT ["/usr/local/bin/stratus"]`, "ENTRYPOINT /usr/local/bin/stratus", "exec-form"},
		{"no copy from builder", "COPY --from=build", "COPY", "COPY --from"},
		{"single stage", "FROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /out/stratus /usr/local/bin/stratus\n", "", "multi-stage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := good
			if tt.old != "" {
				if !strings.Contains(src, tt.old) {
					t.Fatalf("test bug: %q not in the good Dockerfile", tt.old)
				}
				src = strings.Replace(src, tt.old, tt.new, 1)
			}
			d, err := ParseDockerfile([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			err = LintDockerfile(d)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected problems:\n%v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("want a problem mentioning %q, got none", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("want a problem mentioning %q, got:\n%v", tt.want, err)
			}
		})
	}
}

// TestParseDockerfileRejectsUnknownInstruction: BuildKit's parser is strict.
func TestParseDockerfileRejectsUnknownInstruction(t *testing.T) {
	if _, err := ParseDockerfile([]byte("FROM scratch\nCOPPY a b\n")); err == nil {
		t.Fatal("a misspelt instruction parsed")
	}
}

// TestStaticBuild runs the Dockerfile's own `go build` command on this host
// (TARGETOS/TARGETARCH set to this machine's) and checks that the result is a
// static, stripped ELF executable: no program interpreter (PT_INTERP), no
// dynamic section, no shared libraries, no symbol table.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the stratus binary (minutes on a cold build cache); run without -short")
	}
	if runtime.GOOS != "linux" {
		t.Skipf("the image is linux; this host is %s", runtime.GOOS)
	}
	d := parseFile(t, "Dockerfile")
	bc, err := d.GoBuild(map[string]string{"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "stratus")
	args := slices.Clone(bc.Args)
	if i := slices.Index(args, "-o"); i >= 0 && i+1 < len(args) {
		args[i+1] = out
	} else {
		t.Fatalf("the Dockerfile's go build has no -o: %q", args)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot(t)
	// STRATUS_BUILD_DIR builds another checkout of the repository (a clean
	// `git archive` while the work tree is mid-edit).
	if dir := os.Getenv("STRATUS_BUILD_DIR"); dir != "" {
		cmd.Dir = dir
	}
	// The Dockerfile's step before the build: the patched Beam that the
	// build's -modfile names (tools/prismpatch).
	patch := exec.Command("go", "run", "./tools/prismpatch", "-out", ".cache/prism")
	patch.Dir, patch.Env = cmd.Dir, append(os.Environ(), "GOFLAGS=")
	if b, err := patch.CombinedOutput(); err != nil {
		t.Fatalf("tools/prismpatch: %v\n%s", err, b)
	}
	// As in the image: the environment the RUN sets, and no VCS stamping
	// (the build context has no .git).
	cmd.Env = append(append(os.Environ(), bc.Env...), "GOFLAGS=-buildvcs=false")
	t.Logf("(in %s) %s go %s", cmd.Dir, strings.Join(bc.Env, " "), strings.Join(args, " "))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	if err := CheckStaticELF(out); err != nil {
		t.Fatal(err)
	}
	// `file` agrees, where it is installed (deploy/check.sh installs it).
	if path, err := exec.LookPath("file"); err == nil {
		b, err := exec.Command(path, out).CombinedOutput()
		if err != nil {
			t.Fatalf("file: %v\n%s", err, b)
		}
		if !strings.Contains(string(b), "statically linked") || strings.Contains(string(b), "interpreter") {
			t.Fatalf("file says: %s", b)
		}
		t.Logf("file: %s", strings.TrimSpace(string(b)))
	} else {
		t.Log("file(1) not installed: the ELF check above is the proof")
	}
	st, _ := os.Stat(out)
	t.Logf("static binary: %.1f MB", float64(st.Size())/1e6)
}

// CheckStaticELF reports why the executable at path is not a static,
// stripped ELF binary (nil if it is).
func CheckStaticELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var problems []string
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			problems = append(problems, "has a program interpreter (PT_INTERP): dynamically linked")
		case elf.PT_DYNAMIC:
			problems = append(problems, "has a dynamic section (PT_DYNAMIC)")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		problems = append(problems, "needs shared libraries "+strings.Join(libs, ", "))
	}
	if f.Section(".symtab") != nil {
		problems = append(problems, "has a symbol table (-ldflags -s missing)")
	}
	if len(problems) > 0 {
		return &elfError{path, problems}
	}
	return nil
}

type elfError struct {
	path     string
	problems []string
}

func (e *elfError) Error() string {
	return e.path + ": " + strings.Join(e.problems, "; ")
}

// TestCheckStaticELFRejectsDynamic: the ELF check tells a dynamic binary
// from a static one (the go tool itself is static; /bin/sh is not).
func TestCheckStaticELFRejectsDynamic(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	sh, _ = filepath.EvalSymlinks(sh)
	err = CheckStaticELF(sh)
	if err == nil || !strings.Contains(err.Error(), "PT_INTERP") {
		t.Fatalf("%s: want a dynamic-linking problem, got %v", sh, err)
	}
}

// TestCompose loads compose.yaml strictly and checks it.
func TestCompose(t *testing.T) {
	p, err := LoadCompose(context.Background(), "compose.yaml", nil)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if err := CheckCompose(p); err != nil {
		t.Fatalf("compose.yaml:\n%v", err)
	}
	// The knobs interpolate.
	p, err = LoadCompose(context.Background(), "compose.yaml", map[string]string{"STRATUS_TAG": "1.2.3", "FLINK_TASK_SLOTS": "8"})
	if err != nil {
		t.Fatal(err)
	}
	if img := p.Services["frontend-1"].Image; img != "stratus:1.2.3" {
		t.Errorf("STRATUS_TAG: image %q", img)
	}
	if v := p.Services["flink-taskmanager"].Environment["FLINK_PROPERTIES"]; v == nil || !strings.Contains(*v, "taskmanager.numberOfTaskSlots: 8") {
		t.Errorf("FLINK_TASK_SLOTS not interpolated into FLINK_PROPERTIES")
	}
}

// TestComposeRejects proves the strictness: each broken variant of a small
// compose file fails to load or fails the reference check.
func TestComposeRejects(t *testing.T) {
	const good = `services:
  kafka:
    image: apache/kafka:4.1.2
    expose: ["9092"]
  app:
    image: stratus:dev
    command: ["serve", "--kafka=kafka:9092"]
    environment:
      X: "1"
    depends_on:
      kafka: {condition: service_started}
    volumes:
      - data:/data
volumes:
  data:
`
	tests := []struct {
		name, old, new, want string
	}{
		{"good", "", "", ""},
		{"misspelt service key", "    environment:", "    enviroment:", "enviroment"},
		{"unknown top-level key", "volumes:\n  data:", "volumez:\n  data:", "volumez"},
		{"wrong type", `X: "1"`, "X: [1]", "environment"},
		{"depends on a missing service", "      kafka: {condition", "      kafak: {condition", "kafak"},
		{"missing volume", "      - data:/data", "      - dta:/data", "dta"},
		{"unexposed port", "kafka:9092\"]", "kafka:9093\"]", "kafka:9093"},
		{"network of a missing service", "    image: stratus:dev", "    image: stratus:dev\n    network_mode: \"service:nope\"", "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := good
			if tt.old != "" {
				if !strings.Contains(src, tt.old) {
					t.Fatalf("test bug: %q not in the good file", tt.old)
				}
				src = strings.Replace(src, tt.old, tt.new, 1)
			}
			path := filepath.Join(t.TempDir(), "compose.yaml")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := LoadCompose(context.Background(), path, nil)
			if err == nil {
				err = CheckReferences(p, nil)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("want an error mentioning %q, got none", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("want an error mentioning %q, got: %v", tt.want, err)
			}
		})
	}
}

// composeCopy writes compose.yaml, the committed *.env.example
// placeholders and kafka-init.sh into a temporary folder (the relative paths
// to the rest of the repository pointing back here), with one replacement
// applied to one of those files (all occurrences when all is set), and
// loads it.
func composeCopy(t *testing.T, file, old, new string, all bool) *types.Project {
	t.Helper()
	here, _ := filepath.Abs(".")
	dir := t.TempDir()
	files, _ := filepath.Glob("*.env.example")
	files = append(files, "compose.yaml", "kafka-init.sh")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		if f == file {
			if !strings.Contains(src, old) {
				t.Fatalf("test bug: %q not in %s", old, f)
			}
			if all {
				src = strings.ReplaceAll(src, old, new)
			} else {
				src = strings.Replace(src, old, new, 1)
			}
		}
		if f == "compose.yaml" {
			src = strings.ReplaceAll(src, "../..", filepath.Join(here, "..", ".."))
			src = strings.ReplaceAll(src, "../nginx", filepath.Join(here, "..", "nginx"))
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := LoadCompose(context.Background(), filepath.Join(dir, "compose.yaml"), nil)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

// TestCheckComposeRejects breaks the real compose.yaml (or one of its
// placeholders) in one place at a time, in a temporary copy, and expects
// CheckCompose to say so; the unbroken copy passes.
func TestCheckComposeRejects(t *testing.T) {
	if err := CheckCompose(composeCopy(t, "", "", "", false)); err != nil {
		t.Fatalf("the unbroken copy fails:\n%v", err)
	}
	const c = "compose.yaml"
	tests := []struct {
		name, file, old, new string
		all                  bool
		want                 string
	}{
		{"runner", c, "--runner=flink", "--runner=prism", false, "--runner must be flink"},
		{"endpoint", c, "--endpoint=beam-jobserver:8099", "--endpoint=beam-jobserver:8100", false, "--endpoint"},
		{"duplicate replica", c, "--replica=frontend-2", "--replica=frontend-1", false, "share --replica"},
		{"root user", c, `user: "65532:65532"`, `user: "0:0"`, false, "non-root"},
		{"worker pool off the task manager", c, `network_mode: "service:flink-taskmanager"`, `network_mode: "service:flink-jobmanager"`, false, "beam-worker-pool"},
		{"artifacts off the shared volume", c, "--artifacts-dir=/flink-data/beam-artifacts", "--artifacts-dir=/tmp/beam-artifacts", false, "--artifacts-dir"},
		{"unexposed kafka port", c, `expose: ["9092", "9093", "9094"]`, `expose: ["9093", "9094"]`, false, "kafka:9092"},
		{"latest image", c, "image: couchdb:3.5", "image: couchdb:latest", false, "couchdb"},
		{"inline credentials", c, "      KAFKA_NODE_ID: \"1\"", "      KAFKA_NODE_ID: \"1\"\n      COUCHDB_PASSWORD: x", false, "set inline"},
		{"one frontend only", c, "--upstream frontend-2:8080", "", false, "frontend-2:8080"},

		// Kafka ACLs (issue 13): who may write answers and samples, read answers.
		{"frontend writes answers", c, "stratus-frontend topic:stratus.predictions  Read,Describe", "stratus-frontend topic:stratus.predictions  Read,Write,Describe", false, "User:stratus-frontend may write stratus.predictions"},
		{"frontend gets All on answers", c, "stratus-frontend topic:stratus.predictions  Read,Describe", "stratus-frontend topic:stratus.predictions  All", false, "User:stratus-frontend may write stratus.predictions"},
		{"third user writes samples", c, "stratus-frontend topic:stratus.canvas       Write,Describe", "stratus-frontend topic:stratus.canvas       Write,Describe\n        ops topic:stratus.samples Write", false, "User:ops may write stratus.samples"},
		{"third user reads answers", c, "stratus-frontend topic:stratus.canvas       Write,Describe", "stratus-frontend topic:stratus.canvas       Write,Describe\n        ops topic:stratus.predictions Read", false, "User:ops may read stratus.predictions"},
		{"frontend writes dead letters", c, "stratus-frontend topic:stratus.canvas       Write,Describe", "stratus-frontend topic:stratus.canvas       Write,Describe\n        stratus-frontend topic:stratus.deadletter Write", false, "User:stratus-frontend may write stratus.deadletter"},
		{"pipeline reads answers", c, "stratus-stream   topic:stratus.predictions  Write,Describe", "stratus-stream   topic:stratus.predictions  Read,Write,Describe", false, "User:stratus-stream may read stratus.predictions"},
		{"pipeline misses its store group", c, "        stratus-stream   group:stratus-stream-store Read,Describe\n", "", false, "User:stratus-stream needs Read on group stratus-stream-store"},
		{"frontend cannot write events", c, "stratus-frontend topic:stratus.canvas       Write,Describe", "stratus-frontend topic:stratus.canvas       Describe", false, "User:stratus-frontend needs Write on topic stratus.canvas"},
		{"acl on a missing topic", c, "stratus-stream   topic:stratus.canvas       Read,Describe", "stratus-stream   topic:stratus.canvass       Read,Describe", false, `no topic "stratus.canvass"`},
		{"frontend gets a group", c, "stratus-frontend topic:stratus.canvas       Write,Describe", "stratus-frontend topic:stratus.canvas       Write,Describe\n        stratus-frontend group:stratus-stream Read", false, "only the pipeline's user (stratus-stream) uses consumer groups"},
		{"topic alter", c, "stratus-frontend topic:stratus.canvas       Write,Describe", "stratus-frontend topic:stratus.canvas       Write,Describe,Alter", false, "operation Alter"},
		{"no authorizer", c, "      KAFKA_AUTHORIZER_CLASS_NAME: org.apache.kafka.metadata.authorizer.StandardAuthorizer\n", "", false, "KAFKA_AUTHORIZER_CLASS_NAME must be"},
		{"allow everyone", c, `KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND: "false"`, `KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND: "true"`, false, "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND=true"},
		{"frontend a super user", c, "KAFKA_SUPER_USERS: User:admin", "KAFKA_SUPER_USERS: User:admin;User:stratus-frontend", false, "KAFKA_SUPER_USERS must be User:admin alone"},
		{"plaintext client listener", c, "CLIENT:SASL_PLAINTEXT,", "CLIENT:PLAINTEXT,", false, `listener CLIENT is "PLAINTEXT"`},
		{"frontends log in as the pipeline", c, "--kafka-user=stratus-frontend", "--kafka-user=stratus-stream", true, "must log in as two different users"},
		{"one frontend logs in as the pipeline", c, "--kafka-user=stratus-frontend", "--kafka-user=stratus-stream", false, "log in as more than one user"},
		{"wrong mechanism", c, `"--kafka-sasl=scram-sha-512", "--kafka-user=stratus-frontend"`, `"--kafka-sasl=plain", "--kafka-user=stratus-frontend"`, false, "--kafka-sasl=plain, but listener CLIENT enables [SCRAM-SHA-512]"},
		{"worker pool without the password", c, "    env_file:\n      - path: stream.env\n        required: true\n    depends_on:\n      flink-taskmanager", "    depends_on:\n      flink-taskmanager", false, "beam-worker-pool: its workers log in as stratus-stream"},
		{"frontend with the pipeline's password", c, "      - path: frontend.env\n", "      - path: stream.env\n", false, "frontend-1: STRATUS_KAFKA_PASSWORD in its env files must be stratus-frontend's password"},
		{"passwords disagree", "frontend.env.example", "STRATUS_KAFKA_PASSWORD=change-me-frontend", "STRATUS_KAFKA_PASSWORD=changed-frontend", false, "STRATUS_KAFKA_PASSWORD in its env files must be stratus-frontend's password"},
		{"user without a password", "kafka-users.env.example", "SCRAM_PASSWORD_STRATUS_FRONTEND=", "SCRAM_PASSWORD_FRONTEND=", false, "no SCRAM_PASSWORD_STRATUS_FRONTEND"},
		{"admin logins disagree", "kafka.env.example", `CONTROLLER_PLAIN_SASL_JAAS_CONFIG=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin"`, `CONTROLLER_PLAIN_SASL_JAAS_CONFIG=org.apache.kafka.common.security.plain.PlainLoginModule required username="root"`, false, "the same PLAIN login"},
		{"inline jaas password", c, "      KAFKA_NODE_ID: \"1\"", "      KAFKA_NODE_ID: \"1\"\n      KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG: x username=\"admin\" password=\"y\";", false, "KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG is set inline"},
		{"init script not mounted", c, "./kafka-init.sh:/stratus/kafka-init.sh:ro", "./kafka-init.sh:/stratus/init.sh:ro", false, "must mount deploy/docker/kafka-init.sh"},
		{"stream before the ACLs", c, "      kafka-init: {condition: service_completed_successfully}\n      couchdb", "      kafka: {condition: service_healthy}\n      couchdb", false, "must wait for kafka-init"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCompose(composeCopy(t, tt.file, tt.old, tt.new, tt.all))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want a problem mentioning %q, got: %v", tt.want, err)
			}
		})
	}
}

// wantComposeGrants is every ACL of the compose deployment (issue 13): the
// pipeline (User:stratus-stream) alone writes answers, samples and dead
// letters; the frontends (User:stratus-frontend) alone read the answers.
var wantComposeGrants = []string{
	"User:stratus-frontend Describe topic:stratus.canvas",
	"User:stratus-frontend Describe topic:stratus.predictions",
	"User:stratus-frontend Read topic:stratus.predictions",
	"User:stratus-frontend Write topic:stratus.canvas",
	"User:stratus-stream Describe group:stratus-stream",
	"User:stratus-stream Describe group:stratus-stream-store",
	"User:stratus-stream Describe topic:stratus.canvas",
	"User:stratus-stream Describe topic:stratus.deadletter",
	"User:stratus-stream Describe topic:stratus.predictions",
	"User:stratus-stream Describe topic:stratus.samples",
	"User:stratus-stream Read group:stratus-stream",
	"User:stratus-stream Read group:stratus-stream-store",
	"User:stratus-stream Read topic:stratus.canvas",
	"User:stratus-stream Read topic:stratus.samples",
	"User:stratus-stream Write topic:stratus.deadletter",
	"User:stratus-stream Write topic:stratus.predictions",
	"User:stratus-stream Write topic:stratus.samples",
}

// TestComposeKafkaACLs pins the whole ACL set that kafka-init creates, and
// that the broker enforces it.
func TestComposeKafkaACLs(t *testing.T) {
	p, err := LoadCompose(context.Background(), "compose.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ComposeKafkaGrants(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(wantComposeGrants, "\n") {
		t.Errorf("grants:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantComposeGrants, "\n  "))
	}
	k := p.Services["kafka"]
	for key, want := range map[string]string{
		"KAFKA_AUTHORIZER_CLASS_NAME":          StandardAuthorizer,
		"KAFKA_SUPER_USERS":                    "User:admin",
		"KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "false",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CLIENT:SASL_PLAINTEXT,BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
	} {
		if got := envValue(k, key); got != want {
			t.Errorf("kafka: %s=%q, want %q", key, got, want)
		}
	}
}
