package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPatchTheModule patches the Beam version go.mod names and lays out
// the tree and the modfile; every edit must have applied.
func TestPatchTheModule(t *testing.T) {
	dir, err := moduleDir()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	mod, err := write("../..", dir, out)
	if err != nil {
		t.Fatal(err)
	}
	server, err := os.ReadFile(filepath.Join(out, "beam", serverFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		if !strings.Contains(string(server), e.new) || strings.Contains(string(server), e.old) {
			t.Errorf("%s: not applied", e.why)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "beam", filepath.Dir(serverFile), "stratus_guard.go")); err != nil {
		t.Error(err)
	}
	if fi, err := os.Lstat(filepath.Join(out, "beam", "go.mod")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("go.mod of the tree: %v, %v: want a link to the module cache", fi, err)
	}
	b, err := os.ReadFile(mod)
	if err != nil || !strings.Contains(string(b), "replace "+beamModule+" => "+filepath.Join(out, "beam")) {
		t.Errorf("%s: %v\n%s", mod, err, b)
	}
}

// TestPatchRefusesAChangedFile: a Beam release whose server.go differs
// fails the build rather than shipping the open job service.
func TestPatchRefusesAChangedFile(t *testing.T) {
	src := "lis, err := net.Listen(\"tcp\", fmt.Sprintf(\"0.0.0.0:%d\", port))"
	if _, err := patch(src); err == nil || !strings.Contains(err.Error(), "Beam changed") {
		t.Fatalf("patch of a changed file: %v", err)
	}
	twice := edits[0].old + edits[0].old + edits[1].old + edits[2].old
	if _, err := patch(twice); err == nil {
		t.Fatal("patch of a file with an edit's text twice: no error")
	}
}
