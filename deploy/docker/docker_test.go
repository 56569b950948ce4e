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

// TestCheckComposeRejects breaks the real compose.yaml in one place at a time
// (in a temporary copy whose relative paths point back here) and expects
// CheckCompose to say so.
func TestCheckComposeRejects(t *testing.T) {
	orig, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	here, _ := filepath.Abs(".")
	tests := []struct {
		name, old, new, want string
	}{
		{"runner", "--runner=flink", "--runner=prism", "--runner must be flink"},
		{"endpoint", "--endpoint=beam-jobserver:8099", "--endpoint=beam-jobserver:8100", "--endpoint"},
		{"duplicate replica", "--replica=frontend-2", "--replica=frontend-1", "share --replica"},
		{"root user", `user: "65532:65532"`, `user: "0:0"`, "non-root"},
		{"worker pool off the task manager", `network_mode: "service:flink-taskmanager"`, `network_mode: "service:flink-jobmanager"`, "beam-worker-pool"},
		{"artifacts off the shared volume", "--artifacts-dir=/flink-data/beam-artifacts", "--artifacts-dir=/tmp/beam-artifacts", "--artifacts-dir"},
		{"unexposed kafka port", `expose: ["9092", "9093"]`, `expose: ["9093"]`, "kafka:9092"},
		{"latest image", "image: couchdb:3.5", "image: couchdb:latest", "couchdb"},
		{"inline credentials", "      KAFKA_NODE_ID: \"1\"", "      KAFKA_NODE_ID: \"1\"\n      COUCHDB_PASSWORD: x", "set inline"},
		{"one frontend only", "--upstream frontend-2:8080", "", "frontend-2:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := string(orig)
			if !strings.Contains(src, tt.old) {
				t.Fatalf("test bug: %q not in compose.yaml", tt.old)
			}
			src = strings.Replace(src, tt.old, tt.new, 1)
			src = strings.ReplaceAll(src, "../..", filepath.Join(here, "..", ".."))
			src = strings.ReplaceAll(src, "../nginx", filepath.Join(here, "..", "nginx"))
			dir := t.TempDir()
			for _, f := range []string{"couchdb.env.example", "stratus.env.example"} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "compose.yaml")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := LoadCompose(context.Background(), path, nil)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			err = CheckCompose(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want a problem mentioning %q, got: %v", tt.want, err)
			}
		})
	}
}
