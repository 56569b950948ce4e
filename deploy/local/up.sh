#!/usr/bin/env bash
# deploy/local/up.sh: start everything Stratus's integration tests run
# against (a real Kafka 4.1 broker, the CouchDB-protocol server, and Beam's
# Flink and Spark job servers) on free loopback ports, and write their
# addresses to the env file. STRATUS_LOCAL_JOB_SERVERS=0 leaves the two job
# servers out (their tests then fail under STRATUS_INTEGRATION=1).
#
#   deploy/local/up.sh
#   set -a; . "${STRATUS_LOCAL_DIR:-$HOME/.cache/stratus-local}/env"; set +a
#   STRATUS_INTEGRATION=1 go test -tags integration ./...
#   deploy/local/down.sh
#
# Idempotent: services already running are left as they are. Settings: see
# kafka.sh, couchdb.sh, flink.sh and spark.sh.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

"$here/couchdb.sh" start >/dev/null
"$here/kafka.sh" start >/dev/null
"$here/chromium.sh" install >/dev/null
if [ "${STRATUS_LOCAL_JOB_SERVERS:-1}" != 0 ]; then
  "$here/flink.sh" start >/dev/null
  "$here/spark.sh" start >/dev/null
fi
echo "# source with: set -a; . $STRATUS_LOCAL_ENV; set +a" >&2
cat "$STRATUS_LOCAL_ENV"
