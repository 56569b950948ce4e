package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// The v1 layout (https://go.dev/security/vuln/database#api), as
// golang.org/x/vuln/internal/client reads it from a file:// URL: each
// endpoint is its path plus ".json".
const (
	dbFile      = "index/db.json"
	modulesFile = "index/modules.json"
	vulnsFile   = "index/vulns.json"
	idDir       = "ID"
)

// DBMeta is index/db.json.
type DBMeta struct {
	// Modified is the latest modified time of any entry.
	Modified time.Time `json:"modified"`
}

// ModuleMeta is one element of index/modules.json: a module that one or
// more entries affect.
type ModuleMeta struct {
	Path  string       `json:"path"`
	Vulns []ModuleVuln `json:"vulns"`
}

// ModuleVuln is an entry that affects a module, in index/modules.json.
type ModuleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	// Fixed is the latest fixed version of the module's SEMVER ranges
	// (no "v"), or "" where the vulnerability is reintroduced after it or
	// there is none: govulncheck fetches the entry only for versions below
	// it.
	Fixed string `json:"fixed,omitempty"`
}

// VulnMeta is one element of index/vulns.json.
type VulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// entry is the part of an OSV entry that the indexes are made of.
type entry struct {
	ID        string     `json:"id"`
	Modified  time.Time  `json:"modified"`
	Published time.Time  `json:"published"`
	Withdrawn *time.Time `json:"withdrawn"`
	Aliases   []string   `json:"aliases"`
	Affected  []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

// osvRange is an OSV affected range.
type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced"`
		Fixed      string `json:"fixed"`
	} `json:"events"`
}

// Stats says what Build wrote.
type Stats struct {
	Entries, Modules int
	// Filled is how many entries had no modified time and were given one.
	Filled   int
	Modified time.Time
}

// Complete reports whether dir holds a database that Build finished.
func Complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(dbFile)))
	return err == nil
}

// Build converts the OSV entries (<ID>.json) in osvDir into a v1 database
// in dir, replacing any there. An entry whose modified time is zero gets
// fallback or, when fallback is zero, the later of its published and
// withdrawn times. The database is written to a sibling folder and renamed
// to dir at the end, so dir is never seen half written.
func Build(osvDir, dir string, fallback time.Time) (*Stats, error) {
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", osvDir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no OSV entries (*.json) in %s", osvDir)
	}
	tmp, err := newBuildDir(dir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	st := &Stats{}
	db := DBMeta{}
	modules := map[string]*ModuleMeta{}
	var vulns []VulnMeta
	seen := map[string]bool{}
	for _, f := range files {
		e, err := copyEntry(f, tmp, fallback, seen, st)
		if err != nil {
			return nil, err
		}
		if e.Modified.After(db.Modified) {
			db.Modified = e.Modified
		}
		vulns = append(vulns, VulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			m := modules[a.Package.Name]
			if m == nil {
				m = &ModuleMeta{Path: a.Package.Name, Vulns: []ModuleVuln{}}
				modules[a.Package.Name] = m
			}
			m.Vulns = append(m.Vulns, ModuleVuln{ID: e.ID, Modified: e.Modified, Fixed: LatestFixed(a.Ranges)})
		}
	}
	nMods, err := writeIndex(tmp, db, modules, vulns)
	if err != nil {
		return nil, err
	}
	st.Entries, st.Modules, st.Modified = len(vulns), nMods, db.Modified
	if err := replaceDir(tmp, dir); err != nil {
		return nil, err
	}
	return st, nil
}

// newBuildDir makes the temporary folder, a sibling of dir, that Build
// writes the database into; the caller removes it.
func newBuildDir(dir string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("database folder: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("database folder: %w", err)
	}
	for _, sub := range []string{idDir, "index"} {
		if err := os.Mkdir(filepath.Join(tmp, sub), 0o755); err != nil {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("database folder: %w", err)
		}
	}
	return tmp, nil
}

// copyEntry reads the OSV entry in file f, checks its name and that its id
// is not in seen (adding it), fills a zero modified time (see Build,
// counting it in st.Filled) and writes it under tmp's ID folder. The
// entry's modified time is in UTC.
func copyEntry(f, tmp string, fallback time.Time, seen map[string]bool, st *Stats) (entry, error) {
	raw, err := os.ReadFile(f)
	if err != nil {
		return entry{}, fmt.Errorf("reading OSV entry: %w", err)
	}
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return entry{}, fmt.Errorf("%s: %w", f, err)
	}
	if e.ID == "" || filepath.Base(f) != e.ID+".json" {
		return entry{}, fmt.Errorf("%s: OSV entry files must be named <ID>.json, this one's id is %q", f, e.ID)
	}
	if seen[e.ID] {
		return entry{}, fmt.Errorf("%s: id %s appears twice", f, e.ID)
	}
	seen[e.ID] = true
	if e.Modified.IsZero() {
		e.Modified = fallback
		if e.Modified.IsZero() {
			e.Modified = e.Published
			if e.Withdrawn != nil && e.Withdrawn.After(e.Modified) {
				e.Modified = *e.Withdrawn
			}
		}
		if raw, err = setModified(raw, e.Modified); err != nil {
			return entry{}, fmt.Errorf("%s: %w", f, err)
		}
		st.Filled++
	}
	e.Modified = e.Modified.UTC()
	if err := os.WriteFile(filepath.Join(tmp, idDir, e.ID+".json"), raw, 0o644); err != nil {
		return entry{}, fmt.Errorf("writing %s: %w", e.ID, err)
	}
	return e, nil
}

// writeIndex writes the index files (db, modules, vulns, sorted) under
// tmp and returns how many modules they name.
func writeIndex(tmp string, db DBMeta, modules map[string]*ModuleMeta, vulns []VulnMeta) (int, error) {
	mods := make([]*ModuleMeta, 0, len(modules))
	for _, m := range modules {
		slices.SortStableFunc(m.Vulns, func(a, b ModuleVuln) int { return cmp.Compare(a.ID, b.ID) })
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b *ModuleMeta) int { return cmp.Compare(a.Path, b.Path) })
	slices.SortFunc(vulns, func(a, b VulnMeta) int { return cmp.Compare(a.ID, b.ID) })
	for name, v := range map[string]any{dbFile: db, modulesFile: mods, vulnsFile: vulns} {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, fmt.Errorf("encoding %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(tmp, filepath.FromSlash(name)), b, 0o644); err != nil {
			return 0, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return len(mods), nil
}

// replaceDir replaces dir with the finished database in tmp.
func replaceDir(tmp, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("replacing %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another build may have put its complete database there first.
		if errors.Is(err, fs.ErrExist) && Complete(dir) {
			return nil
		}
		return fmt.Errorf("replacing %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("database folder: %w", err)
	}
	return nil
}

// setModified returns the OSV entry raw with its "modified" field set to
// t, every other field as it was.
func setModified(raw []byte, t time.Time) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	b, err := json.Marshal(t.UTC().Format(time.RFC3339))
	if err != nil {
		return nil, err
	}
	fields["modified"] = b
	return json.Marshal(fields)
}

// LatestFixed is the fixed version that golang.org/x/vuln (and x/vulndb,
// which makes vuln.go.dev) puts in index/modules.json for an affected
// module's ranges: the latest "fixed" event of its SEMVER ranges, or ""
// when a range reintroduces the vulnerability after it.
func LatestFixed(ranges []osvRange) string {
	var latest string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && less(latest, e.Fixed) {
				latest = e.Fixed
			}
		}
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && less(latest, e.Introduced) {
				latest = ""
				break
			}
		}
	}
	return latest
}

// less reports whether v1 < v2 as golang.org/x/vuln/internal/semver.Less
// does: versions with a "v", a "go" or no prefix, an invalid one (such as
// "") before every valid one.
func less(v1, v2 string) bool {
	canon := func(s string) string {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "go")
		if !strings.HasPrefix(s, "v") && !strings.HasPrefix(s, "go") {
			s = "v" + s
		}
		return s
	}
	return semver.Compare(canon(v1), canon(v2)) < 0
}
