// Package docker checks Stratus's container build and its one-host compose
// file without a container engine: the Dockerfile is parsed with BuildKit's
// own parser and linted for what the image promises (multi-stage, static
// build, non-root, small base), the binary is built on the host with the
// Dockerfile's own build command and its ELF header checked for static
// linking, and compose.yaml is loaded strictly with the compose-spec loader
// and its references checked.
//
// It is a module of its own (github.com/stratusml/stratus/deploy/docker) so
// that BuildKit and compose-go stay out of the stratus binary; run it with
// `cd deploy/docker && go test ./...` or deploy/check.sh.
package docker

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Dockerfile is a parsed Dockerfile: its stages and global ARG defaults.
type Dockerfile struct {
	Stages  []instructions.Stage
	MetaArg map[string]string // ARGs before the first FROM, with their defaults
}

// ParseDockerfile parses src with BuildKit's parser (the one `docker build`
// uses), so a syntax error or an unknown instruction fails here as it would
// in a build.
func ParseDockerfile(src []byte) (*Dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("instructions: %w", err)
	}
	d := &Dockerfile{Stages: stages, MetaArg: map[string]string{}}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				d.MetaArg[kv.Key] = *kv.Value
			} else {
				d.MetaArg[kv.Key] = ""
			}
		}
	}
	return d, nil
}

// BaseImage is stage i's FROM image with global ARGs expanded.
func (d *Dockerfile) BaseImage(i int) string {
	env := make([]string, 0, len(d.MetaArg))
	for k, v := range d.MetaArg {
		env = append(env, k+"="+v)
	}
	img, _, err := shell.NewLex('\\').ProcessWord(d.Stages[i].BaseName, shell.EnvsFromSlice(env))
	if err != nil {
		return d.Stages[i].BaseName
	}
	return img
}

// BuildCommand is the `go build` that a RUN instruction runs: its leading
// NAME=VALUE environment assignments and the go command's arguments
// (starting with "build").
type BuildCommand struct {
	Stage int
	Env   []string
	Args  []string
}

// GoBuild finds the RUN instruction that runs `go build` and splits it into
// words the way a shell would, with vars expanding the stage's ARGs (for
// example TARGETOS=linux).
func (d *Dockerfile) GoBuild(vars map[string]string) (*BuildCommand, error) {
	for si, st := range d.Stages {
		for _, c := range st.Commands {
			run, ok := c.(*instructions.RunCommand)
			if !ok || !run.PrependShell || len(run.CmdLine) != 1 || !strings.Contains(run.CmdLine[0], "go build") {
				continue
			}
			env := make([]string, 0, len(vars))
			for k, v := range vars {
				env = append(env, k+"="+v)
			}
			words, err := shell.NewLex('\\').ProcessWords(run.CmdLine[0], shell.EnvsFromSlice(env))
			if err != nil {
				return nil, fmt.Errorf("RUN %q: %w", run.CmdLine[0], err)
			}
			bc := &BuildCommand{Stage: si}
			i := 0
			for ; i < len(words) && isAssignment(words[i]); i++ {
				bc.Env = append(bc.Env, words[i])
			}
			if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
				return nil, fmt.Errorf("RUN %q: want [NAME=VALUE…] go build …", run.CmdLine[0])
			}
			bc.Args = words[i+1:]
			return bc, nil
		}
	}
	return nil, errors.New("no RUN instruction runs go build")
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Getenv is the value of NAME in the command's assignments.
func (b *BuildCommand) Getenv(name string) (string, bool) {
	for _, kv := range b.Env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v, true
		}
	}
	return "", false
}

// boolFlags are the go build flags that take no value.
var boolFlags = map[string]bool{"-trimpath": true, "-race": true, "-a": true, "-v": true, "-x": true, "-n": true, "-msan": true, "-asan": true, "-cover": true, "-linkshared": true, "-modcacherw": true}

// Flag is the value of a go build flag (-ldflags X or -ldflags=X), and
// whether it is there; a boolean flag such as -trimpath has value "".
func (b *BuildCommand) Flag(name string) (string, bool) {
	for i, a := range b.Args {
		switch {
		case a == name:
			if boolFlags[name] || i+1 >= len(b.Args) {
				return "", true
			}
			return b.Args[i+1], true
		case strings.HasPrefix(a, name+"="):
			return strings.TrimPrefix(a, name+"="), true
		}
	}
	return "", false
}

// LintDockerfile checks what the stratus image promises and returns every
// problem found (nil when there is none):
//   - two stages at least: a golang:1.26 builder and a small final image
//     (distroless static, or scratch);
//   - the builder runs `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"
//     … ./cmd/stratus`;
//   - the final stage copies the binary from the builder, sets a non-root
//     USER (numeric, so that Kubernetes' runAsNonRoot can check it) and an
//     exec-form ENTRYPOINT.
func LintDockerfile(d *Dockerfile) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(d.Stages) < 2 {
		bad("want a multi-stage build (builder + final image), got %d stage(s)", len(d.Stages))
		return errors.Join(errs...)
	}
	if img := d.BaseImage(0); !strings.HasPrefix(img, "golang:1.26") {
		bad("the builder stage must be FROM golang:1.26…, not %q", img)
	}
	last := len(d.Stages) - 1
	final := d.Stages[last]
	img := d.BaseImage(last)
	if img != "scratch" && !strings.HasPrefix(img, "gcr.io/distroless/static") {
		bad("the final stage must be FROM gcr.io/distroless/static… or scratch, not %q", img)
	}

	bc, err := d.GoBuild(map[string]string{"TARGETOS": "linux", "TARGETARCH": "amd64"})
	if err != nil {
		bad("%v", err)
	} else {
		if bc.Stage == last {
			bad("go build runs in the final stage: build in a builder stage")
		}
		if v, _ := bc.Getenv("CGO_ENABLED"); v != "0" {
			bad("go build must run with CGO_ENABLED=0 (a static binary), got %q", v)
		}
		if _, ok := bc.Flag("-trimpath"); !ok {
			bad("go build must use -trimpath")
		}
		if v, _ := bc.Flag("-ldflags"); !slices.Contains(strings.Fields(v), "-s") || !slices.Contains(strings.Fields(v), "-w") {
			bad(`go build must use -ldflags "-s -w", got %q`, v)
		}
		if len(bc.Args) == 0 || bc.Args[len(bc.Args)-1] != "./cmd/stratus" {
			bad("go build must build ./cmd/stratus (last argument), got %q", bc.Args)
		}
	}

	var user string
	var copied, entry bool
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.CopyCommand:
			if c.From != "" && c.From == d.Stages[bc.stageOr(0)].Name {
				copied = true
			}
		case *instructions.EntrypointCommand:
			entry = !c.PrependShell && len(c.CmdLine) > 0
		case *instructions.RunCommand:
			bad("the final stage runs %q: a distroless/scratch image has no shell", c.CmdLine)
		}
	}
	if !copied {
		bad("the final stage must COPY --from=<builder stage> the binary")
	}
	if !entry {
		bad("the final stage needs an exec-form ENTRYPOINT [\"/usr/local/bin/stratus\"]")
	}
	switch uid, _, _ := strings.Cut(user, ":"); {
	case user == "":
		bad("the final stage sets no USER: the container would run as root")
	case uid == "root" || uid == "0":
		bad("the final stage runs as root (USER %s)", user)
	case strings.Trim(uid, "0123456789") != "":
		bad("USER %s: use a numeric uid (e.g. 65532:65532) so runAsNonRoot can verify it", user)
	}
	return errors.Join(errs...)
}

// stageOr is the stage the build ran in, or def when there is no build.
func (b *BuildCommand) stageOr(def int) int {
	if b == nil {
		return def
	}
	return b.Stage
}
