// Command vulndb builds an offline copy of the Go vulnerability database,
// for govulncheck's -db file://DIR, from the golang.org/x/vulndb module on
// the Go module proxy, for machines that reach the proxy but not
// vuln.go.dev.
//
//	go -C tools/vulndb run . [-dir DIR] [-osv DIR [-modified RFC3339]] [-force]
//
// Without -osv it downloads golang.org/x/vulndb at the version pinned in
// this file (vulndbVersion; `go mod download`, so it lands in the module
// cache and its hash is checked against vulndbSum) and converts the OSV
// entries of its data/osv folder. With -osv it converts that folder
// instead. The database is written in the layout of the v1 API
// (https://go.dev/security/vuln/database#api) that govulncheck reads from
// a file:// URL: index/db.json, index/modules.json, index/vulns.json and
// ID/<ID>.json. It is built in a sibling folder and renamed into place, so
// an existing DIR is always complete and is reused unless -force is given.
// The default DIR (for the pinned version; -osv needs -dir) is
// $STRATUS_LOCAL_DIR/vulndb/<version>, STRATUS_LOCAL_DIR defaulting to
// ~/.cache/stratus-local. The folder is printed on stdout.
//
// The module zip carries no git history, which is where vuln.go.dev takes
// each entry's modified time from, so its entries say
// "0001-01-01T00:00:00Z". Such an entry is given the time of the vulndb
// commit that the version names (or -modified): an upper bound, the same for
// every entry, and so also the database's modified time, which govulncheck
// prints as "DB updated".
//
//	go -C tools/vulndb run . check [-accept FILE] NAME < govulncheck.json
//
// reads `govulncheck -format json` output, prints the vulnerabilities whose
// code is called and exits 1 when one of them is not accepted: only a
// standard-library one can be, by a line "ID GOVERSION reason" of FILE for
// the Go version the code is built with (see Check and accepted.txt).
// scripts/vuln.sh runs both.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const (
	// vulndbModule is the module the database is built from.
	vulndbModule = "golang.org/x/vulndb"
	// vulndbVersion is the version of vulndbModule the database is built
	// from: the one place it is pinned. Move it on with
	// `go list -m -versions golang.org/x/vulndb` (or the proxy's @v/list)
	// and `go mod download -json golang.org/x/vulndb@VERSION`, whose Sum
	// goes in vulndbSum.
	vulndbVersion = "v0.0.0-20261105234957-e22db6528018"
	// vulndbSum is the go.sum hash (h1:) of vulndbModule@vulndbVersion,
	// checked after the download whatever GOSUMDB, GONOSUMDB or GOFLAGS say.
	vulndbSum = "h1:mfngRv0Yoh0VApsXKEN82CjD99kl7mtparN3bs3JnqI="
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		if err := runCheck(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "vulndb:", err)
			os.Exit(1)
		}
		return
	}
	dir := flag.String("dir", "", "database folder (default $STRATUS_LOCAL_DIR/vulndb/<version>, STRATUS_LOCAL_DIR defaulting to ~/.cache/stratus-local; needed with -osv)")
	osvDir := flag.String("osv", "", "convert this folder of OSV entries instead of the pinned "+vulndbModule)
	modified := flag.String("modified", "", "with -osv: RFC 3339 time given to entries without a modified time (default: their published or withdrawn time, the later)")
	force := flag.Bool("force", false, "rebuild the database even if the folder exists")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: vulndb [-dir DIR] [-osv DIR [-modified RFC3339]] [-force]\n\n"+
			"Builds the Go vulnerability database for govulncheck -db file://DIR from %s@%s\n"+
			"(or the OSV entries in -osv DIR) and prints DIR.\n\n", vulndbModule, vulndbVersion)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || (*modified != "" && *osvDir == "") {
		flag.Usage()
		os.Exit(2)
	}
	out, err := run(*dir, *osvDir, *modified, *force)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
	fmt.Println(out)
}

// run builds the database as main's flags say and returns its folder.
func run(dir, osvDir, modified string, force bool) (string, error) {
	if dir == "" {
		if osvDir != "" {
			return "", fmt.Errorf("-osv needs -dir")
		}
		d, err := DefaultDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("database folder: %w", err)
	}
	if !force && Complete(dir) {
		return dir, nil
	}
	var fallback time.Time
	if osvDir == "" {
		mod, err := Download(vulndbModule, vulndbVersion, vulndbSum)
		if err != nil {
			return "", err
		}
		osvDir, fallback = filepath.Join(mod.Dir, "data", "osv"), mod.Time
	} else if modified != "" {
		if fallback, err = time.Parse(time.RFC3339, modified); err != nil {
			return "", fmt.Errorf("-modified: %w", err)
		}
	}
	if _, err := Build(osvDir, dir, fallback); err != nil {
		return "", err
	}
	return dir, nil
}

// DefaultDir is the folder that holds the database built from the pinned
// version: $STRATUS_LOCAL_DIR/vulndb/<version>, STRATUS_LOCAL_DIR defaulting
// to ~/.cache/stratus-local as in deploy/local.
func DefaultDir() (string, error) {
	base := os.Getenv("STRATUS_LOCAL_DIR")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("database folder: %w", err)
		}
		base = filepath.Join(home, ".cache", "stratus-local")
	}
	return filepath.Join(base, "vulndb", vulndbVersion), nil
}
