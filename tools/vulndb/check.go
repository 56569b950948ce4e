package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Acceptance is a line of the accept list: a vulnerability of the Go
// standard library (or toolchain) that Check lets pass while the code is
// built with GoVersion, because its fix needs a newer Go than the project
// can use. It lapses by itself when the Go version moves on.
type Acceptance struct {
	ID, GoVersion, Reason string
}

// ReadAcceptances reads an accept list: one "ID GOVERSION reason…" a line;
// blank lines and lines starting with # are skipped.
func ReadAcceptances(r io.Reader) ([]Acceptance, error) {
	var list []Acceptance
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(f[0], "GO-") || !strings.HasPrefix(f[1], "go1.") {
			return nil, fmt.Errorf("line %d: want \"GO-ID go1.N.N reason…\", got %q", n, line)
		}
		list = append(list, Acceptance{ID: f[0], GoVersion: f[1], Reason: strings.Join(f[2:], " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the accept list: %w", err)
	}
	return list, nil
}

// frame is a step of a finding's trace (govulncheck's JSON).
type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
	} `json:"position"`
}

// String is the frame as "pkg.Recv.Func (file:line)".
func (f frame) String() string {
	s := f.Package
	if f.Receiver != "" {
		s += "." + strings.TrimPrefix(f.Receiver, "*")
	}
	if f.Function != "" {
		s += "." + f.Function
	}
	if f.Position != nil && f.Position.Filename != "" {
		s += fmt.Sprintf(" (%s:%d)", f.Position.Filename, f.Position.Line)
	}
	return s
}

// Finding is one vulnerability that govulncheck found the code to call
// (its symbol-level findings, in source or binary mode).
type Finding struct {
	ID, Summary string
	// Module and Version are where the vulnerable symbol is ("stdlib" and
	// the Go version for the standard library); Fixed is the version that
	// fixes it ("" when none does).
	Module, Version, Fixed string
	// Trace is an example call path, from the code's own function to the
	// vulnerable symbol.
	Trace []string
	// Accepted is the accept-list line that lets it pass, if any.
	Accepted *Acceptance
}

// Report is what Check makes of one govulncheck run.
type Report struct {
	// GoVersion is the Go version govulncheck took the code to be built
	// with.
	GoVersion string
	Findings  []Finding
}

// Failed reports whether any finding was not accepted.
func (r *Report) Failed() bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Accepted == nil })
}

// Check reads the output of `govulncheck -format json` and returns the
// called vulnerabilities, one finding per vulnerability (the first trace
// govulncheck gave), marking those an acceptance lets pass: a stdlib or
// toolchain one whose ID and Go version are on the list. Vulnerabilities
// that are only imported or required, not called, are not findings (the
// text output's "Symbol Results" alone make govulncheck exit 3).
func Check(r io.Reader, accept []Acceptance) (*Report, error) {
	rep := &Report{}
	summaries := map[string]string{}
	byID := map[string]*Finding{}
	var order []string
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Config *struct {
				GoVersion string `json:"go_version"`
			} `json:"config"`
			SBOM *struct {
				GoVersion string `json:"go_version"`
			} `json:"SBOM"`
			OSV *struct {
				ID      string `json:"id"`
				Summary string `json:"summary"`
			} `json:"osv"`
			Finding *struct {
				OSV          string  `json:"osv"`
				FixedVersion string  `json:"fixed_version"`
				Trace        []frame `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading govulncheck's JSON: %w", err)
		}
		if msg.Config != nil && msg.Config.GoVersion != "" {
			rep.GoVersion = msg.Config.GoVersion
		}
		if msg.SBOM != nil && msg.SBOM.GoVersion != "" {
			rep.GoVersion = msg.SBOM.GoVersion
		}
		if o := msg.OSV; o != nil {
			summaries[o.ID] = o.Summary
		}
		f := msg.Finding
		if f == nil || len(f.Trace) == 0 || f.Trace[0].Function == "" || byID[f.OSV] != nil {
			continue // not called, or a further trace of one already seen
		}
		fd := &Finding{ID: f.OSV, Module: f.Trace[0].Module, Version: f.Trace[0].Version, Fixed: f.FixedVersion}
		if fd.Module == "stdlib" || fd.Module == "toolchain" {
			// govulncheck gives Go versions as semver (v1.26.8).
			fd.Version, fd.Fixed = goVersion(fd.Version), goVersion(fd.Fixed)
		}
		for i := len(f.Trace) - 1; i >= 0; i-- {
			fd.Trace = append(fd.Trace, f.Trace[i].String())
		}
		byID[f.OSV] = fd
		order = append(order, f.OSV)
	}
	if rep.GoVersion == "" {
		return nil, errors.New("govulncheck's JSON names no Go version (config or SBOM go_version): is it `govulncheck -format json` output?")
	}
	slices.Sort(order)
	for _, id := range order {
		fd := byID[id]
		fd.Summary = summaries[id]
		if fd.Module == "stdlib" || fd.Module == "toolchain" {
			for i, a := range accept {
				if a.ID == id && a.GoVersion == rep.GoVersion {
					fd.Accepted = &accept[i]
					break
				}
			}
		}
		rep.Findings = append(rep.Findings, *fd)
	}
	return rep, nil
}

// Print writes the report for a person: a line for each accepted finding,
// the summary and trace of each other, then whether the run passes.
func (r *Report) Print(w io.Writer, what string) {
	bad := 0
	for _, f := range r.Findings {
		fixed := "no fixed version"
		if f.Fixed != "" {
			fixed = "fixed in " + f.Fixed
		}
		if f.Accepted != nil {
			fmt.Fprintf(w, "  %s %s@%s, %s: accepted for %s\n", f.ID, f.Module, f.Version, fixed, f.Accepted.GoVersion)
			continue
		}
		bad++
		fmt.Fprintf(w, "  %s %s@%s, %s: VULNERABLE\n    %s\n    %s\n", f.ID, f.Module, f.Version, fixed, f.Summary, strings.Join(f.Trace, " → "))
	}
	if bad > 0 {
		fmt.Fprintf(w, "vuln: %s: %d called vulnerabilities not accepted (%d accepted)\n", what, bad, len(r.Findings)-bad)
	} else if len(r.Findings) > 0 {
		fmt.Fprintf(w, "vuln: %s: ok (%s; %d called vulnerabilities, all accepted)\n", what, r.GoVersion, len(r.Findings))
	} else {
		fmt.Fprintf(w, "vuln: %s: ok (%s; no called vulnerabilities)\n", what, r.GoVersion)
	}
}

// runCheck is `vulndb check [-accept FILE] NAME < govulncheck.json`: it
// prints the report and fails when a called vulnerability is not accepted.
func runCheck(args []string) error {
	var acceptFile, what string
	for len(args) > 0 {
		switch {
		case args[0] == "-accept" && len(args) > 1:
			acceptFile, args = args[1], args[2:]
		case what == "" && !strings.HasPrefix(args[0], "-"):
			what, args = args[0], args[1:]
		default:
			return errors.New("usage: vulndb check [-accept FILE] NAME < govulncheck-format-json-output")
		}
	}
	var accept []Acceptance
	if acceptFile != "" {
		f, err := os.Open(acceptFile)
		if err != nil {
			return fmt.Errorf("accept list: %w", err)
		}
		accept, err = ReadAcceptances(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", acceptFile, err)
		}
	}
	rep, err := Check(os.Stdin, accept)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	rep.Print(os.Stdout, what)
	if rep.Failed() {
		return fmt.Errorf("%s: vulnerable code is called (see above); upgrade each module to its fixed version (stdlib: the Go toolchain)", what)
	}
	return nil
}

// goVersion turns a semver Go version (v1.26.8) into Go's own (go1.26.8).
func goVersion(v string) string {
	if strings.HasPrefix(v, "v") {
		return "go" + v[1:]
	}
	return v
}
