#!/usr/bin/env bash
# update.sh: regenerate the vendored CRDs in this folder from Maven Central.
#
#   deploy/k8s/testdata/crds/update.sh [STRIMZI_VERSION] [FLINK_OPERATOR_VERSION]
#
# Strimzi publishes no CRD YAML in a registry, but it publishes its API model
# (io.strimzi:api) and the generator its own build runs on it
# (io.strimzi:crd-generator): this runs that generator with the arguments of
# io.strimzi:api's pom (exec-maven-plugin, "generate-crds"), which writes the
# same files as packaging/install/cluster-operator/04*-Crd-*.yaml of the
# release. The Flink Kubernetes Operator's API jar
# (org.apache.flink:flink-kubernetes-operator-api) carries its CRDs, generated
# by fabric8, under META-INF/fabric8/.
#
# Needs Maven and Java 21+ for the Strimzi generator (its classes are Java 21;
# set JAVA21 to a java binary, default: the first of java on the PATH and
# /usr/lib/jvm/*/bin/java that is 21 or newer).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
strimzi=${1:-1.2.0}
flink=${2:-1.10.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>crds</artifactId><version>0</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$strimzi</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$strimzi</version></dependency>
    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-kubernetes-operator-api</artifactId><version>$flink</version>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions></dependency>
  </dependencies>
</project>
POM
(cd "$work" && mvn -q dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=lib)

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
java=${JAVA21:-}
if [ -z "$java" ]; then
  for j in $(command -v java || true) /usr/lib/jvm/*/bin/java; do
    if [ -x "$j" ] && [ "$(java_major "$j")" -ge 21 ] 2>/dev/null; then java=$j; break; fi
  done
fi
[ -n "$java" ] || { echo "update.sh: needs Java 21+ (set JAVA21)" >&2; exit 1; }

"$java" -cp "$work/lib/*" io.strimzi.crdgenerator.CrdGenerator \
  --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
  --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
  io.strimzi.api.kafka.model.kafka.Kafka="$here/strimzi-kafka.yaml" \
  io.strimzi.api.kafka.model.nodepool.KafkaNodePool="$here/strimzi-kafkanodepool.yaml" \
  io.strimzi.api.kafka.model.topic.KafkaTopic="$here/strimzi-kafkatopic.yaml" \
  io.strimzi.api.kafka.model.user.KafkaUser="$here/strimzi-kafkauser.yaml"

(cd "$work" && unzip -q -o "lib/flink-kubernetes-operator-api-$flink.jar" 'META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml')
cp "$work/META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml" "$here/flink-flinkdeployment.yaml"

cat >"$here/VERSIONS" <<V
# Written by update.sh: where the CRDs in this folder come from.
io.strimzi:api:$strimzi (generated with io.strimzi:crd-generator:$strimzi)
org.apache.flink:flink-kubernetes-operator-api:$flink (META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml)
V
echo "CRDs updated: Strimzi $strimzi, Flink Kubernetes Operator $flink"
