#!/usr/bin/env bash
# deploy/local/down.sh: stop what up.sh started (Kafka, the CouchDB-protocol
# server, the Flink and Spark job servers) and remove their lines from the
# env file.
# Stopping something that does not run is not an error.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rc=0
"$here/spark.sh" stop || rc=$?
"$here/flink.sh" stop || rc=$?
"$here/kafka.sh" stop || rc=$?
"$here/couchdb.sh" stop || rc=$?
exit "$rc"
