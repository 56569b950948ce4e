#!/usr/bin/env bash
# Lint: gofmt, go vet and staticcheck (pinned as a Go tool in go.mod), then
# govulncheck offline (scripts/vuln.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
GOFLAGS="$(scripts/goflags.sh)"
export GOFLAGS
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi
# With the test build tags on, every file is checked: no file is built only
# without them.
go vet -tags integration,faults ./...
# staticcheck's package loader refuses -modfile ("only valid when using
# modules"): it checks the same code against Beam as released, whose API the
# patch does not change.
GOFLAGS="$(GOFLAGS= go env GOFLAGS)" go tool staticcheck -tags integration,faults ./...
./scripts/vuln.sh
echo "lint: ok"
