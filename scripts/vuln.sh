#!/usr/bin/env bash
# govulncheck, offline: scripts/lint.sh runs this last.
#
#   scripts/vuln.sh                      the checks below
#   STRATUS_VULN_SOURCE=1 scripts/vuln.sh   the main module in source mode too
#
# The Go vulnerability database is not fetched from vuln.go.dev (CI does not
# reach it) but built by tools/vulndb from the golang.org/x/vulndb module on
# the Go module proxy, at the version pinned there, into
# ${STRATUS_LOCAL_DIR:-~/.cache/stratus-local}/vulndb/<version> (once; a few
# seconds). govulncheck is the one pinned as a tool in tools/vulndb/go.mod.
#
# Each check fails on a vulnerability whose vulnerable code is called
# (govulncheck's symbol level; ones in packages that are only imported, or
# modules only required, are not findings), unless it is a standard-library
# one listed for this Go version in tools/vulndb/accepted.txt. Checked:
#   - the stratus binary (go build ./cmd/stratus), in binary mode: the
#     vulnerable functions linked into it. Source mode on ./... of the main
#     module (the call graph of Beam, gorgonia and the Cloud SDK) takes about
#     16 CPU-minutes and 9 GB here; STRATUS_VULN_SOURCE=1 runs it as well.
#   - deploy/docker and deploy/k8s, in source mode (./...).
# First it runs tools/vulndb's own tests, which check that govulncheck reads
# the converted database and reports a vulnerability it should.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# The stratus binary is built on the patched Beam (scripts/goflags.sh);
# tools/vulndb and deploy's modules are other modules, which that -modfile
# must not reach.
stratus_goflags="$(scripts/goflags.sh)"
export GOFLAGS=
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
accept="$root/tools/vulndb/accepted.txt"

echo "== vuln: tools/vulndb (vet, tests)"
go -C tools/vulndb vet ./...
go -C tools/vulndb test ./...
go -C tools/vulndb build -o "$tmp/vulndb" .
db=$("$tmp/vulndb")
echo "   database: $db"

failed=()
# scan NAME GOVULNCHECK-ARGS…: govulncheck -format json, then the check.
scan() {
  local name=$1
  shift
  local start=$SECONDS
  if ! go -C tools/vulndb tool govulncheck -db "file://$db" -format json "$@" >"$tmp/out.json"; then
    echo "vuln: $name: govulncheck failed"
    failed+=("$name")
    return
  fi
  "$tmp/vulndb" check -accept "$accept" "$name" <"$tmp/out.json" || failed+=("$name")
  echo "   ($name: $((SECONDS - start)) s)"
}

echo "== vuln: stratus binary"
GOFLAGS="$stratus_goflags" go build -o "$tmp/stratus" ./cmd/stratus
scan "bin/stratus" -mode binary "$tmp/stratus"
if [ "${STRATUS_VULN_SOURCE:-}" = 1 ]; then
  scan "github.com/stratusml/stratus (source)" -C "$root" ./...
fi
for m in deploy/docker deploy/k8s; do
  echo "== vuln: $m"
  scan "$m" -C "$root/$m" ./...
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "vuln: FAILED: ${failed[*]}" >&2
  echo "  govulncheck's own report: go -C tools/vulndb tool govulncheck -db file://$db -C DIR ./..." >&2
  exit 1
fi
echo "vuln: ok"
