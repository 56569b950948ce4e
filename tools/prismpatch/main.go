// Command prismpatch lays out the patched Beam module that every Stratus
// build uses, so that Beam prism's job service is not open to the network.
//
// Beam Go's prism job service (v2.77.0, and v2.78.0 alike) listens on every
// interface (`net.Listen("tcp", ":port")` in internal/jobservices) and runs
// any pipeline it is sent, including a PROCESS environment whose command it
// runs on the host. No option changes either, and the package is internal,
// so Stratus patches it at build time: server.go listens on 127.0.0.1 and
// its gRPC server gets a guard (guard.go.txt) that refuses job-service calls
// without the starting process's token. The patched module is a tree of
// symbolic links to the module cache with the two files replaced, and a
// go.mod (stratus.mod) that replaces Beam with it; scripts/goflags.sh puts
// `-modfile=…/stratus.mod` into GOFLAGS for make, the test and lint scripts
// and the Dockerfile. runners checks at run time that the patch is in: a
// binary built without it refuses to start prism.
//
//	go run ./tools/prismpatch -out .cache/prism   # prints the stratus.mod path
//
// Every replacement must match exactly once: a Beam upgrade that changes
// the file fails the build here instead of shipping the hole.
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// beamModule is the module whose prism job service is patched.
const beamModule = "github.com/apache/beam/sdks/v2"

// serverFile is the job service's file inside the module.
const serverFile = "go/pkg/beam/runners/prism/internal/jobservices/server.go"

//go:embed guard.go.txt
var guardSource string

// replacement is one exact edit of server.go.
type replacement struct{ old, new, why string }

// edits close the job service: loopback listener and endpoint, and the
// token guard on its gRPC server.
var edits = []replacement{
	{`net.Listen("tcp", fmt.Sprintf(":%d", port))`, `net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))`, "listen on loopback only"},
	{`return fmt.Sprintf("localhost:%v", port)`, `return fmt.Sprintf("127.0.0.1:%v", port)`, "advertise the address it listens on"},
	{`s.server = grpc.NewServer(opts...)`, `s.server = grpc.NewServer(append(opts, stratusGuard()...)...)`, "refuse other processes' jobs"},
}

// patch applies edits to the source of server.go.
func patch(src string) (string, error) {
	for _, e := range edits {
		if n := strings.Count(src, e.old); n != 1 {
			return "", fmt.Errorf("prismpatch: %s: found %q %d times in %s, want once: Beam changed; update tools/prismpatch", e.why, e.old, n, serverFile)
		}
		src = strings.Replace(src, e.old, e.new, 1)
	}
	return "// Patched by Stratus's tools/prismpatch: loopback only, token guard.\n" + src, nil
}

// moduleDir asks the go command where the Beam module is.
func moduleDir() (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", beamModule)
	// The patched module may not exist yet: this call must not need it.
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("prismpatch: go list -m %s: %w", beamModule, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("prismpatch: the Beam module is not downloaded (run go mod download)")
	}
	return dir, nil
}

// write lays out under out a copy of the Beam module at modDir made of
// symbolic links to it, except for the patched job service, and a go.mod
// (stratus.mod, with stratus.sum) that is the main module's own plus a
// replace directive pointing Beam at that copy. It returns the path of
// stratus.mod, for `-modfile`. (`-overlay` would be lighter, but the go
// command refuses overlays of files in the module cache.)
func write(mainDir, modDir, out string) (string, error) {
	src, err := os.ReadFile(filepath.Join(modDir, serverFile))
	if err != nil {
		return "", fmt.Errorf("prismpatch: %w", err)
	}
	patched, err := patch(string(src))
	if err != nil {
		return "", err
	}
	if out, err = filepath.Abs(out); err != nil {
		return "", err
	}
	tree := filepath.Join(out, "beam")
	if err := os.RemoveAll(tree); err != nil {
		return "", fmt.Errorf("prismpatch: %w", err)
	}
	if err := linkTree(modDir, tree, serverFile); err != nil {
		return "", err
	}
	jobservices := filepath.Join(tree, filepath.Dir(serverFile))
	for name, body := range map[string]string{"server.go": patched, "stratus_guard.go": guardSource} {
		if err := os.WriteFile(filepath.Join(jobservices, name), []byte(body), 0o644); err != nil {
			return "", fmt.Errorf("prismpatch: %w", err)
		}
	}
	return writeModfile(mainDir, out, tree)
}

// linkTree makes dst a copy of src whose entries are symbolic links to
// src's, except along the path to keep, which is made of real folders so
// that its last element can be replaced.
func linkTree(src, dst, keep string) error {
	first, rest, _ := strings.Cut(filepath.ToSlash(keep), "/")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("prismpatch: %w", err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("prismpatch: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == first && rest != "":
			if err := linkTree(filepath.Join(src, name), filepath.Join(dst, name), rest); err != nil {
				return err
			}
		case name == first:
			// The file to replace: written by the caller.
		default:
			if err := os.Symlink(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
				return fmt.Errorf("prismpatch: %w", err)
			}
		}
	}
	return nil
}

// writeModfile writes out/stratus.mod (the main module's go.mod with Beam
// replaced by tree) and out/stratus.sum, and returns the .mod path.
func writeModfile(mainDir, out, tree string) (string, error) {
	mod, err := os.ReadFile(filepath.Join(mainDir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("prismpatch: %w", err)
	}
	sum, err := os.ReadFile(filepath.Join(mainDir, "go.sum"))
	if err != nil {
		return "", fmt.Errorf("prismpatch: %w", err)
	}
	mod = fmt.Appendf(mod, "\n// Added by tools/prismpatch: prism's job service on loopback, with a token guard.\nreplace %s => %s\n", beamModule, tree)
	path := filepath.Join(out, "stratus.mod")
	if err := os.WriteFile(path, mod, 0o644); err != nil {
		return "", fmt.Errorf("prismpatch: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "stratus.sum"), sum, 0o644); err != nil {
		return "", fmt.Errorf("prismpatch: %w", err)
	}
	return path, nil
}

func main() {
	out := flag.String("out", ".cache/prism", "folder for the patched module and stratus.mod")
	flag.Parse()
	dir, err := moduleDir()
	if err == nil {
		var path string
		if path, err = write(".", dir, *out); err == nil {
			fmt.Println(path)
			return
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
