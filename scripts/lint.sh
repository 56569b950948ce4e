#!/usr/bin/env bash
# Lint: gofmt, go vet and staticcheck (pinned as a Go tool in go.mod), then
# govulncheck offline (scripts/vuln.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi
# Every build tag the tests use: plain, integration, integration+faults.
for tags in "" integration integration,faults; do
  go vet -tags "$tags" ./...
  go tool staticcheck -tags "$tags" ./...
done
./scripts/vuln.sh
echo "lint: ok"
