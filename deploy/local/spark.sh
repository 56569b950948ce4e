#!/usr/bin/env bash
# deploy/local/spark.sh start|stop|restart|status
#
# Beam's Spark 3 job server for Stratus's integration tests, on free loopback
# ports: the job service (where `--runner spark --endpoint` submits), its
# artifact service and a Java expansion service. Jobs run on an embedded
# Spark (local[N]) in the same JVM; the Go SDK workers run LOOPBACK in the
# submitting process, so submit from this machine. Beam's portable Spark
# runner is batch-only for Go pipelines (docs/runners.md: runner matrix).
#
# start  resolves the job server from Maven Central (first run only):
#        org.apache.beam:beam-runners-spark-3-job-server:2.77.0 when it is
#        served, else the Spark runner module, Spark and their dependencies
#        (spark/pom.xml: Beam 2.62.0, Spark 3.5.0); starts it in the
#        background with the --add-opens flags Spark needs on Java 17, waits
#        until the job port answers, and writes
#        STRATUS_SPARK_ENDPOINT=127.0.0.1:PORT into the env file. When the
#        server already runs it only refreshes the env line.
# stop   stops it (SIGTERM, SIGKILL after 30 s) and removes the line.
# status prints the endpoint and exits 0 when it runs, 3 when not.
#
# Needs: java 11 or 17 (JAVA_HOME honoured), and mvn for the first start.
# Settings (environment):
#   STRATUS_LOCAL_DIR           cache and state (default ~/.cache/stratus-local)
#   STRATUS_LOCAL_ENV           env file (default $STRATUS_LOCAL_DIR/env)
#   STRATUS_SPARK_PORT          job service port (default: a free one)
#   STRATUS_SPARK_JOB_SERVER    Maven coordinates of the packaged job server
#                               (default org.apache.beam:beam-runners-spark-3-job-server:2.77.0)
#   STRATUS_SPARK_MASTER        Spark master URL (default local[2])
#   STRATUS_SPARK_HEAP          JVM heap flags (default "-Xms256m -Xmx1536m")
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

LOG_TAG=spark
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JS_NAME=spark
JS_TITLE="Spark job server"
JS_ENV_KEY=STRATUS_SPARK_ENDPOINT
JS_PORT_VAR=STRATUS_SPARK_PORT
JS_JAR=${STRATUS_SPARK_JOB_SERVER:-org.apache.beam:beam-runners-spark-3-job-server:2.77.0}
JS_MAIN=org.apache.beam.runners.spark.SparkJobServerDriver
# Spark 3 reaches into JDK internals: on Java 17 these packages must be
# opened to it (the list Spark's own launcher passes, JavaModuleOptions).
# shellcheck disable=SC2206 # word splitting of the heap flags is intended
JS_JVM_FLAGS=(${STRATUS_SPARK_HEAP:--Xms256m -Xmx1536m} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  -XX:+IgnoreUnrecognizedVMOptions
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/sun.nio.cs=ALL-UNNAMED
  --add-opens=java.base/sun.security.action=ALL-UNNAMED
  --add-opens=java.base/sun.util.calendar=ALL-UNNAMED
  -Djdk.reflect.useDirectMethodHandle=false
  -Dio.netty.tryReflectionSetAccessible=true
  -Dspark.ui.enabled=false -Dspark.driver.host="$LOCAL_HOST" -Dspark.driver.bindAddress="$LOCAL_HOST"
  -Dlog4j2.configurationFile="file:$LOCAL_SRC/spark/log4j2.properties")

js_args() {
  printf '%s\n' --spark-master-url "${STRATUS_SPARK_MASTER:-local[2]}"
}

# shellcheck source=jobserver.sh
. "$LOCAL_SRC/jobserver.sh"
js_main "$@"
