#!/usr/bin/env bash
# The Stratus test suite: what `make test` and CI (.ci/run) run.
#   scripts/test.sh            lint, then every test with the race detector
#   scripts/test.sh integration  the integration tests only
# Tests of real components read their addresses from STRATUS_* variables that
# deploy/local scripts set; with STRATUS_INTEGRATION=1 a missing component
# fails its test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

echo "== go: $(go version)"
go mod download

if [ "$what" = all ]; then
  echo "== lint"
  ./scripts/lint.sh
fi

echo "== tests"
go test -race -timeout 20m ./...
