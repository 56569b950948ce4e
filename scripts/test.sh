#!/usr/bin/env bash
# The Stratus test suite: what `make test` and CI (.ci/run) run.
#
#   scripts/test.sh               lint, then every test (unit, fuzz seeds,
#                                 integration on real Kafka and CouchDB) with -race
#   scripts/test.sh integration   the same tests without the lint step
#
# It installs and starts the real components itself (deploy/local/up.sh:
# Apache Kafka 4.1 from Maven Central, a CouchDB-protocol server from npm) on
# free loopback ports and stops them at the end. With STRATUS_INTEGRATION=1 a
# test whose component is missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

echo "== go: $(go version)"
go mod download
# Beam with prism's job service closed (tools/prismpatch; SECURITY.md).
GOFLAGS="$(scripts/goflags.sh)"
export GOFLAGS
echo "   GOFLAGS=$GOFLAGS"

if [ "$what" = all ]; then
  echo "== lint"
  ./scripts/lint.sh
fi

echo "== starting real components (deploy/local/up.sh)"
started_here=0
if ! deploy/local/kafka.sh status >/dev/null 2>&1 || ! deploy/local/couchdb.sh status >/dev/null 2>&1 ||
  ! deploy/local/flink.sh status >/dev/null 2>&1 || ! deploy/local/spark.sh status >/dev/null 2>&1; then
  started_here=1
fi
cleanup() { if [ "$started_here" = 1 ]; then deploy/local/down.sh >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
deploy/local/up.sh >/dev/null
set -a
# shellcheck disable=SC1091
. "${STRATUS_LOCAL_ENV:-${STRATUS_LOCAL_DIR:-$HOME/.cache/stratus-local}/env}"
set +a
export STRATUS_INTEGRATION=1
echo "   kafka at $STRATUS_KAFKA, couchdb at ${STRATUS_COUCHDB%%@*}…"

echo "== deployment checks"
deploy/check.sh

echo "== unit tests and fuzz seeds (race detector on)"
go test -race -timeout 20m ./...

# Integration tests run without the race detector: Beam Go v2.77.0's SDK
# harness has data races of its own at job cancellation (harness.go,
# datamgr.go) that make -race runs of pipelines fail at random.
echo "== integration tests on the real components"
go test -tags integration -timeout 25m ./...

# Fault tests stop and restart the shared Kafka broker and CouchDB-protocol
# server, so they run alone, after everything else, one at a time.
echo "== fault tests (Kafka restarted, CouchDB down 30 s, pipeline SIGKILLed)"
go test -tags integration,faults -p 1 -timeout 15m -run Fault ./cmd/stratus
