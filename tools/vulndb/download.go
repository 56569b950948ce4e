package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// Module is a module version downloaded into the module cache.
type Module struct {
	Path, Version string
	// Dir is the module's extracted, read-only folder in the module cache.
	Dir string
	// Sum is its go.sum hash (h1:…).
	Sum string
	// Time is the version's time from the proxy's .info: for a
	// pseudo-version, the time of the commit it names.
	Time time.Time
}

// Download fetches path@version into the module cache with
// `go mod download -json` (through GOPROXY, as any module: nothing is
// downloaded again when it is there) and checks that its hash is sum. It
// runs outside any module, so no go.mod or go.sum is touched.
func Download(path, version, sum string) (*Module, error) {
	tmp, err := os.MkdirTemp("", "vulndb-download-")
	if err != nil {
		return nil, fmt.Errorf("download %s@%s: %w", path, version, err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", path+"@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GO111MODULE=on")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	// With -json, errors are reported in the JSON's Error field too.
	var info struct {
		Path, Version, Dir, Sum, Info, Error string
	}
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		if runErr != nil {
			return nil, fmt.Errorf("go mod download %s@%s: %w: %s", path, version, runErr, bytes.TrimSpace(stderr.Bytes()))
		}
		return nil, fmt.Errorf("go mod download %s@%s: reading its output: %w", path, version, err)
	}
	if info.Error != "" {
		return nil, fmt.Errorf("go mod download %s@%s: %s", path, version, info.Error)
	}
	if runErr != nil {
		return nil, fmt.Errorf("go mod download %s@%s: %w: %s", path, version, runErr, bytes.TrimSpace(stderr.Bytes()))
	}
	if info.Sum != sum {
		return nil, fmt.Errorf("%s@%s has hash %s, want %s", path, version, info.Sum, sum)
	}
	m := &Module{Path: info.Path, Version: info.Version, Dir: info.Dir, Sum: info.Sum}
	b, err := os.ReadFile(info.Info)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w", path, version, err)
	}
	var vi struct{ Time time.Time }
	if err := json.Unmarshal(b, &vi); err != nil {
		return nil, fmt.Errorf("%s@%s: %s: %w", path, version, info.Info, err)
	}
	m.Time = vi.Time.UTC()
	return m, nil
}
