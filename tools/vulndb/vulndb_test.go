package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLatestFixed(t *testing.T) {
	type ev = struct {
		Introduced string `json:"introduced"`
		Fixed      string `json:"fixed"`
	}
	semverRange := func(events ...ev) osvRange { return osvRange{Type: "SEMVER", Events: events} }
	for _, tc := range []struct {
		name   string
		ranges []osvRange
		want   string
	}{
		{"none", nil, ""},
		{"one fix", []osvRange{semverRange(ev{Introduced: "0"}, ev{Fixed: "1.6.0"})}, "1.6.0"},
		{"no fix", []osvRange{semverRange(ev{Introduced: "0"})}, ""},
		{"latest of several", []osvRange{semverRange(ev{Introduced: "0"}, ev{Fixed: "1.2.3"}, ev{Introduced: "1.3.0"}, ev{Fixed: "1.10.1"})}, "1.10.1"},
		{"reintroduced after the last fix", []osvRange{semverRange(ev{Introduced: "0"}, ev{Fixed: "1.5.0"}, ev{Introduced: "2.0.0"})}, ""},
		{"across ranges", []osvRange{semverRange(ev{Introduced: "0"}, ev{Fixed: "0.9.0"}), semverRange(ev{Introduced: "1.0.0"}, ev{Fixed: "1.0.4"})}, "1.0.4"},
		{"pre-release and pseudo-version", []osvRange{semverRange(ev{Introduced: "0"}, ev{Fixed: "1.11.0-alpha.0.0.20260225185322-738bad662b20"}, ev{Fixed: "1.10.9"})}, "1.11.0-alpha.0.0.20260225185322-738bad662b20"},
		{"not SEMVER", []osvRange{{Type: "GIT", Events: []ev{{Introduced: "0"}, {Fixed: "abc"}}}}, ""},
	} {
		if got := LatestFixed(tc.ranges); got != tc.want {
			t.Errorf("%s: LatestFixed = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// osvFixtures are OSV entries shaped like x/vulndb's data/osv ones.
var osvFixtures = map[string]string{
	"GO-2099-0001.json": `{
  "schema_version": "1.3.1",
  "id": "GO-2099-0001",
  "modified": "0001-01-01T00:00:00Z",
  "published": "2099-01-02T03:04:05Z",
  "aliases": ["CVE-2099-1"],
  "summary": "one",
  "details": "d",
  "affected": [
    {"package": {"name": "example.com/b", "ecosystem": "Go"},
     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}],
     "ecosystem_specific": {"imports": [{"path": "example.com/b", "symbols": ["F"]}]}},
    {"package": {"name": "example.com/a", "ecosystem": "Go"},
     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
     "ecosystem_specific": {}}
  ],
  "database_specific": {"url": "https://pkg.go.dev/vuln/GO-2099-0001", "review_status": "REVIEWED"}
}`,
	"GO-2099-0002.json": `{"id": "GO-2099-0002", "modified": "2099-06-01T00:00:00Z", "published": "2099-05-01T00:00:00Z", "details": "",
  "affected": [{"package": {"name": "example.com/b", "ecosystem": "Go"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.0.3"}, {"introduced": "1.1.0"}, {"fixed": "1.1.2"}]}]}]}`,
	"GO-2099-0003.json": `{"id": "GO-2099-0003", "modified": "0001-01-01T00:00:00Z", "published": "2099-02-01T00:00:00Z", "withdrawn": "2099-03-01T00:00:00Z", "details": "",
  "affected": [{"package": {"name": "stdlib", "ecosystem": "Go"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.99.1"}]}]}]}`,
	"README.md": "not an entry",
}

func writeFixtures(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestBuild(t *testing.T) {
	src := writeFixtures(t, osvFixtures)
	for _, tc := range []struct {
		name     string
		fallback time.Time
		// modified times of entries 1, 2, 3 and of the database.
		m1, m2, m3, db string
	}{
		{"no fallback", time.Time{}, "2099-01-02T03:04:05Z", "2099-06-01T00:00:00Z", "2099-03-01T00:00:00Z", "2099-06-01T00:00:00Z"},
		{"fallback", date("2099-12-31T23:00:00Z"), "2099-12-31T23:00:00Z", "2099-06-01T00:00:00Z", "2099-12-31T23:00:00Z", "2099-12-31T23:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			if err := os.MkdirAll(filepath.Join(dir, "stale"), 0o755); err != nil {
				t.Fatal(err)
			}
			st, err := Build(src, dir, tc.fallback)
			if err != nil {
				t.Fatal(err)
			}
			if st.Entries != 3 || st.Modules != 3 || st.Filled != 2 || !st.Modified.Equal(date(tc.db)) {
				t.Errorf("stats = %+v", st)
			}
			if !Complete(dir) {
				t.Error("Complete = false after Build")
			}
			if _, err := os.Stat(filepath.Join(dir, "stale")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the folder's old contents are still there (%v)", err)
			}
			if leftovers, _ := filepath.Glob(dir + ".tmp-*"); len(leftovers) != 0 {
				t.Errorf("temporary folders left: %v", leftovers)
			}

			var meta DBMeta
			readJSON(t, filepath.Join(dir, "index", "db.json"), &meta)
			if !meta.Modified.Equal(date(tc.db)) {
				t.Errorf("db.json modified = %v, want %s", meta.Modified, tc.db)
			}
			var mods []ModuleMeta
			readJSON(t, filepath.Join(dir, "index", "modules.json"), &mods)
			m1, m2, m3 := date(tc.m1), date(tc.m2), date(tc.m3)
			want := []ModuleMeta{
				{Path: "example.com/a", Vulns: []ModuleVuln{{ID: "GO-2099-0001", Modified: m1}}},
				{Path: "example.com/b", Vulns: []ModuleVuln{{ID: "GO-2099-0001", Modified: m1, Fixed: "1.2.0"}, {ID: "GO-2099-0002", Modified: m2, Fixed: "1.1.2"}}},
				{Path: "stdlib", Vulns: []ModuleVuln{{ID: "GO-2099-0003", Modified: m3, Fixed: "1.99.1"}}},
			}
			if !reflect.DeepEqual(mods, want) {
				t.Errorf("modules.json = %+v\nwant %+v", mods, want)
			}
			var vulns []VulnMeta
			readJSON(t, filepath.Join(dir, "index", "vulns.json"), &vulns)
			wantVulns := []VulnMeta{{ID: "GO-2099-0001", Modified: m1, Aliases: []string{"CVE-2099-1"}}, {ID: "GO-2099-0002", Modified: m2}, {ID: "GO-2099-0003", Modified: m3}}
			if !reflect.DeepEqual(vulns, wantVulns) {
				t.Errorf("vulns.json = %+v\nwant %+v", vulns, wantVulns)
			}

			// Entries keep every field; only a zero modified time is set.
			for id, m := range map[string]time.Time{"GO-2099-0001": m1, "GO-2099-0002": m2, "GO-2099-0003": m3} {
				var got, orig map[string]any
				readJSON(t, filepath.Join(dir, "ID", id+".json"), &got)
				readJSON(t, filepath.Join(src, id+".json"), &orig)
				if got["modified"] != m.Format(time.RFC3339) {
					t.Errorf("%s: modified = %v, want %v", id, got["modified"], m)
				}
				delete(got, "modified")
				delete(orig, "modified")
				if !reflect.DeepEqual(got, orig) {
					t.Errorf("%s changed:\n%v\nwas\n%v", id, got, orig)
				}
			}
			if ids, _ := os.ReadDir(filepath.Join(dir, "ID")); len(ids) != 3 {
				t.Errorf("ID/ holds %d files, want 3", len(ids))
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"no entries":   {"README.md": "x"},
		"misnamed":     {"GO-2099-0009.json": osvFixtures["GO-2099-0001.json"]},
		"not JSON":     {"GO-2099-0001.json": "{"},
		"no id":        {"GO-2099-0001.json": `{"affected": []}`},
		"bad modified": {"GO-2099-0001.json": `{"id": "GO-2099-0001", "modified": "yesterday"}`},
	} {
		dir := filepath.Join(t.TempDir(), "db")
		if _, err := Build(writeFixtures(t, files), dir, time.Time{}); err == nil {
			t.Errorf("%s: Build succeeded", name)
		}
		if Complete(dir) {
			t.Errorf("%s: a database was left", name)
		}
	}
}

// govulncheck runs this module's pinned govulncheck (`go tool`) on the
// module in dir with the database db and returns its output and exit
// status.
func govulncheck(t *testing.T, dir, db string, args ...string) ([]byte, int) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "govulncheck", "-C", dir, "-db", "file://" + db}, args...)...)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &exit):
		return append(out, stderr.Bytes()...), exit.ExitCode()
	default:
		t.Fatalf("govulncheck: %v: %s", err, stderr.Bytes())
		return nil, -1
	}
}

// TestGovulncheckReadsDB builds the database from the pinned x/vulndb
// version and runs govulncheck with it on a throwaway module that calls
// yaml.Unmarshal of gopkg.in/yaml.v2 v2.2.7: GO-2020-0036 (fixed in 2.2.8,
// Unmarshal among its symbols) must be reported as called, and
// GO-2021-0061 and GO-2022-0956 (fixed in 2.2.3 and 2.2.4) must not. An
// empty, unreadable or wrongly indexed database cannot pass. Check, as
// scripts/vuln.sh runs it, must fail on that output.
func TestGovulncheckReadsDB(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads modules and runs govulncheck")
	}
	mod, err := Download(vulndbModule, vulndbVersion, vulndbSum)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "db")
	st, err := Build(filepath.Join(mod.Dir, "data", "osv"), db, mod.Time)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s@%s: %d entries, %d modules, modified %v", mod.Path, mod.Version, st.Entries, st.Modules, st.Modified)
	if st.Entries < 1000 || st.Modules < 500 || st.Modified.IsZero() {
		t.Fatalf("implausibly small database: %+v", st)
	}

	probe := writeFixtures(t, map[string]string{
		"go.mod": "module example.com/vulnprobe\n\ngo 1.26.0\n\nrequire gopkg.in/yaml.v2 v2.2.7\n",
		"main.go": `package main

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v2"
)

func main() {
	var v map[string]any
	if err := yaml.Unmarshal([]byte(os.Args[1]), &v); err != nil {
		fmt.Println(err)
	}
	fmt.Println(v)
}
`,
	})
	tidy := exec.Command("go", "mod", "tidy")
	tidy.Dir = probe
	tidy.Env = append(os.Environ(), "GOWORK=off")
	if out, err := tidy.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy in the probe module: %v\n%s", err, out)
	}

	// JSON: which vulnerabilities are reported, and at what level.
	out, code := govulncheck(t, probe, db, "-format", "json", "./...")
	if code != 0 {
		t.Fatalf("govulncheck -format json: exit status %d\n%s", code, out)
	}
	var cfgDB string
	var cfgModified *time.Time
	called := map[string][]string{} // OSV id → vulnerable functions reached
	reported := map[string]bool{}   // OSV id → any finding at all
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var msg struct {
			Config *struct {
				DB             string     `json:"db"`
				DBLastModified *time.Time `json:"db_last_modified"`
			} `json:"config"`
			Finding *struct {
				OSV   string `json:"osv"`
				Trace []struct {
					Module, Package, Function string
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("govulncheck's JSON: %v\n%s", err, out)
		}
		if c := msg.Config; c != nil {
			cfgDB, cfgModified = c.DB, c.DBLastModified
		}
		if f := msg.Finding; f != nil {
			reported[f.OSV] = true
			if len(f.Trace) > 0 && f.Trace[0].Function != "" {
				called[f.OSV] = append(called[f.OSV], f.Trace[0].Package+"."+f.Trace[0].Function)
			}
		}
	}
	if !strings.HasPrefix(cfgDB, "file://") || cfgModified == nil || !cfgModified.Equal(st.Modified) {
		t.Errorf("govulncheck's config: db %q modified %v, want file://… modified %v", cfgDB, cfgModified, st.Modified)
	}
	if fns := called["GO-2020-0036"]; !slices.Contains(fns, "gopkg.in/yaml.v2.Unmarshal") {
		t.Errorf("GO-2020-0036 not reported as called through yaml.Unmarshal (called: %v)\n%s", called, out)
	}
	for _, id := range []string{"GO-2021-0061", "GO-2022-0956"} {
		if reported[id] {
			t.Errorf("%s reported, but it is fixed in the version used", id)
		}
	}

	// The check scripts/vuln.sh applies to that output: it fails, and an
	// accept-list line cannot excuse a module's vulnerability.
	for _, accept := range [][]Acceptance{nil, {{ID: "GO-2020-0036", GoVersion: runtimeGoVersion(t), Reason: "test"}}} {
		rep, err := Check(bytes.NewReader(out), accept)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(rep.Findings, func(f Finding) bool { return f.ID == "GO-2020-0036" })
		if !rep.Failed() || i < 0 || rep.Findings[i].Module != "gopkg.in/yaml.v2" || rep.Findings[i].Version != "v2.2.7" || rep.Findings[i].Fixed != "v2.2.8" || rep.Findings[i].Accepted != nil {
			t.Errorf("Check (accept list %v): %+v", accept, rep)
		}
	}
}

// runtimeGoVersion is `go env GOVERSION`, the Go govulncheck checks the
// standard library of.
func runtimeGoVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// govulncheckJSON is govulncheck -format json output, cut down: a called
// stdlib vulnerability (two traces), a called module one, one only imported.
const govulncheckJSON = `{"config": {"protocol_version": "v1.0.0", "scanner_name": "govulncheck", "scan_level": "symbol", "scan_mode": "binary"}}
{"SBOM": {"go_version": "go1.26.8", "modules": [{"path": "example.com/m", "version": "v1.0.0"}]}}
{"osv": {"id": "GO-2099-0001", "summary": "stdlib bug"}}
{"osv": {"id": "GO-2099-0002", "summary": "module bug"}}
{"osv": {"id": "GO-2099-0003", "summary": "not called"}}
{"finding": {"osv": "GO-2099-0001", "fixed_version": "v1.26.9", "trace": [{"module": "stdlib", "version": "v1.26.8", "package": "net/http", "function": "ServeHTTP", "receiver": "*fileHandler"}, {"module": "example.com/m", "package": "example.com/m/web", "function": "Serve", "position": {"filename": "web/web.go", "line": 12, "column": 3}}]}}
{"finding": {"osv": "GO-2099-0001", "fixed_version": "v1.26.9", "trace": [{"module": "stdlib", "version": "v1.26.8", "package": "net/http", "function": "Get"}]}}
{"finding": {"osv": "GO-2099-0002", "trace": [{"module": "example.com/dep", "version": "v0.1.0", "package": "example.com/dep", "function": "Parse"}]}}
{"finding": {"osv": "GO-2099-0003", "fixed_version": "v0.2.0", "trace": [{"module": "example.com/dep", "version": "v0.1.0", "package": "example.com/dep/sub"}]}}
`

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		accept   []Acceptance
		failed   bool
		accepted []string
	}{
		{"nothing accepted", nil, true, nil},
		{"stdlib accepted", []Acceptance{{"GO-2099-0001", "go1.26.8", "r"}}, true, []string{"GO-2099-0001"}},
		{"for another Go", []Acceptance{{"GO-2099-0001", "go1.26.7", "r"}}, true, nil},
		{"a module's cannot be", []Acceptance{{"GO-2099-0001", "go1.26.8", "r"}, {"GO-2099-0002", "go1.26.8", "r"}}, true, []string{"GO-2099-0001"}},
	} {
		rep, err := Check(strings.NewReader(govulncheckJSON), tc.accept)
		if err != nil {
			t.Fatal(err)
		}
		if rep.GoVersion != "go1.26.8" || len(rep.Findings) != 2 || rep.Failed() != tc.failed {
			t.Errorf("%s: %+v", tc.name, rep)
			continue
		}
		var accepted []string
		for _, f := range rep.Findings {
			if f.Accepted != nil {
				accepted = append(accepted, f.ID)
			}
		}
		if !slices.Equal(accepted, tc.accepted) {
			t.Errorf("%s: accepted %v, want %v", tc.name, accepted, tc.accepted)
		}
	}

	rep, err := Check(strings.NewReader(govulncheckJSON), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{
		{ID: "GO-2099-0001", Summary: "stdlib bug", Module: "stdlib", Version: "go1.26.8", Fixed: "go1.26.9",
			Trace: []string{"example.com/m/web.Serve (web/web.go:12)", "net/http.fileHandler.ServeHTTP"}},
		{ID: "GO-2099-0002", Summary: "module bug", Module: "example.com/dep", Version: "v0.1.0",
			Trace: []string{"example.com/dep.Parse"}},
	}
	if !reflect.DeepEqual(rep.Findings, want) {
		t.Errorf("findings:\n%+v\nwant\n%+v", rep.Findings, want)
	}
	var buf bytes.Buffer
	rep.Print(&buf, "m")
	if !strings.Contains(buf.String(), "GO-2099-0002 example.com/dep@v0.1.0, no fixed version: VULNERABLE") ||
		!strings.Contains(buf.String(), "2 called vulnerabilities not accepted") {
		t.Errorf("report:\n%s", &buf)
	}

	if _, err := Check(strings.NewReader(`{"progress": {"message": "x"}}`), nil); err == nil {
		t.Error("Check accepted output without a Go version")
	}
	if _, err := Check(strings.NewReader(`{"config": `), nil); err == nil {
		t.Error("Check accepted truncated JSON")
	}
}

func TestAcceptances(t *testing.T) {
	list, err := ReadAcceptances(strings.NewReader("# comment\n\nGO-2099-0001 go1.26.8 fixed in go1.26.9: x\n"))
	if err != nil || !reflect.DeepEqual(list, []Acceptance{{"GO-2099-0001", "go1.26.8", "fixed in go1.26.9: x"}}) {
		t.Errorf("ReadAcceptances = %v, %v", list, err)
	}
	for _, bad := range []string{"GO-2099-0001 go1.26.8", "CVE-1 go1.26.8 r", "GO-2099-0001 1.26.8 r"} {
		if _, err := ReadAcceptances(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadAcceptances(%q) succeeded", bad)
		}
	}
	// The committed list must read.
	f, err := os.Open("accepted.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ReadAcceptances(f); err != nil {
		t.Errorf("accepted.txt: %v", err)
	}
}
