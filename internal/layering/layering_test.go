// Package layering holds the test that keeps Stratus's package graph as
// ARCHITECTURE.md draws it: the contracts (drawing, message, store) at the
// bottom, the model above them, the Beam transforms and pipelines and the
// frontend on top, and nothing importing cmd.
package layering

import (
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// module is the import path of the root module.
const module = "github.com/stratusml/stratus"

// rule constrains the Stratus imports of the packages that match pkg: with
// allow set (even empty), they may import only those Stratus packages;
// otherwise they may import any but those in forbid. A pattern is a path
// relative to the module root, "x/..." matching x and everything under it
// and "..." every package. A package is held to every rule that matches it.
type rule struct {
	pkg    string
	allow  []string // nil: no allow-list
	forbid []string
}

// rules is the package graph of ARCHITECTURE.md (keep the two the same).
var rules = []rule{
	{pkg: "drawing", allow: []string{}},
	{pkg: "message", allow: []string{"drawing"}},
	{pkg: "store/...", allow: []string{"drawing", "message", "model", "store/..."}},
	{pkg: "model/...", forbid: []string{"transforms/...", "pipelines/...", "frontend/...", "runners/...", "loadgen/...", "cmd/..."}},
	{pkg: "transforms/...", forbid: []string{"pipelines/...", "frontend/...", "cmd/..."}},
	{pkg: "pipelines/...", forbid: []string{"frontend/...", "cmd/..."}},
	{pkg: "frontend/...", forbid: []string{"pipelines/...", "transforms/...", "runners/...", "cmd/..."}},
	{pkg: "...", forbid: []string{"cmd/..."}},
}

// match reports whether the package at path rel (relative to the module
// root) matches pattern.
func match(pattern, rel string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

func matchAny(patterns []string, rel string) bool {
	for _, p := range patterns {
		if match(p, rel) {
			return true
		}
	}
	return false
}

// broken returns why package pkg may not import imp (both relative to the
// module root), or "" when it may.
func broken(pkg, imp string) string {
	if imp == pkg {
		return "" // an external test package imports the package it tests
	}
	for _, r := range rules {
		if !match(r.pkg, pkg) {
			continue
		}
		if r.allow != nil && !matchAny(r.allow, imp) {
			return fmt.Sprintf("%s may import only %v of Stratus", r.pkg, r.allow)
		}
		if matchAny(r.forbid, imp) {
			return fmt.Sprintf("%s may not import %v", r.pkg, r.forbid)
		}
	}
	return ""
}

// root returns the module root: the directory above this one with the
// module's go.mod.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module "+module+"\n") {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod of " + module + " above the test")
		}
		dir = up
	}
}

// integrationOnly reports whether f builds only with the integration tag:
// an end-to-end test that wires real servers and every layer together
// (frontend/integration_test.go runs the pipeline behind the frontend),
// held only to the rule for every package (nothing imports cmd).
func integrationOnly(f *ast.File) bool {
	for _, g := range f.Comments {
		if g.Pos() > f.Package {
			break
		}
		for _, c := range g.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			x, err := constraint.Parse(c.Text)
			if err != nil {
				return false
			}
			return !x.Eval(func(tag string) bool { return tag != "integration" })
		}
	}
	return false
}

// TestLayering parses the imports of every .go file of the module (test
// files included, whatever their build tags; testdata, hidden directories
// and nested modules left out) and fails for each import that a rule
// forbids, naming the file and the import. Files that build only with the
// integration tag are end-to-end tests: see integrationOnly.
func TestLayering(t *testing.T) {
	top := root(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != top && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); path != top && err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		endToEnd := integrationOnly(f)
		files++
		rel, _ := filepath.Rel(top, path)
		pkg := filepath.ToSlash(filepath.Dir(rel))
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			imp = strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			why := broken(pkg, imp)
			if endToEnd {
				why = broken("...", imp) // end-to-end tests: only the rule for everyone
			}
			if why != "" {
				t.Errorf("%s imports %s/%s: %s", rel, module, imp, why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("read only %d Go files under %s: not the module root?", files, top)
	}
}

// TestRules: the rules catch what they must and let the rest through.
func TestRules(t *testing.T) {
	for _, c := range []struct {
		pkg, imp string
		ok       bool
	}{
		{"drawing", "model", false},
		{"message", "drawing", true},
		{"message", "model/preprocess", false},
		{"message", "model/recognize", false},
		{"store", "model", true},
		{"store", "model/preprocess", false},
		{"store/couchdb", "store", true},
		{"store/storetest", "message", true},
		{"store", "transforms/storeio", false},
		{"model/recognize", "message", true},
		{"model/recognize", "pipelines/stream", false},
		{"transforms/inference", "model/recognize", true},
		{"transforms/kafkaio", "pipelines/stream", false},
		{"pipelines/stream", "transforms/kafkaio", true},
		{"pipelines/stream", "frontend", false},
		{"frontend", "store", true},
		{"frontend", "transforms/kafkaio", false},
		{"frontend", "runners", false},
		{"internal/testenv", "cmd/stratus", false},
		{"cmd/stratus", "pipelines/stream", true},
		{"loadgen", "cmd/stratus", false},
	} {
		if why := broken(c.pkg, c.imp); (why == "") != c.ok {
			t.Errorf("%s importing %s: allowed %v, want %v (%s)", c.pkg, c.imp, why == "", c.ok, why)
		}
	}
}
