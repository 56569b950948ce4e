#!/usr/bin/env bash
# kafka-init.sh: makes a fresh (or existing) Kafka broker ready for Stratus,
# idempotently: the topics, the SCRAM-SHA-512 users and their ACLs. The
# compose file's kafka-init service runs it once Kafka is healthy;
# deploy/docker/acl-check.sh runs the same file against a real broker on
# loopback and proves what the ACLs allow and refuse.
#
# It logs in as the broker's super user over the broker's PLAIN listener
# (KAFKA_ADMIN_BOOTSTRAP, default kafka:9094) with the login of the
# broker's own JAAS configuration (kafka.env). Environment:
#   KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG  the admin's PLAIN login (kafka.env)
#   STRATUS_KAFKA_USERS    the SCRAM users, one name per word
#   SCRAM_PASSWORD_<USER>  each user's password, <USER> the name upper-cased
#                          with - as _ (kafka-users.env)
#   STRATUS_KAFKA_ACLS     the ACLs, one per line: USER RESOURCE OPERATIONS,
#                          RESOURCE topic:NAME or group:NAME, OPERATIONS
#                          comma-separated (Read,Write,Describe); allow rules
#                          only, literal names only: nothing else is granted
#   STRATUS_KAFKA_TOPICS   the topics, NAME:PARTITIONS, one per word
#   KAFKA_BIN              Kafka's bin folder (default /opt/kafka/bin)
set -euo pipefail

bin=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${KAFKA_ADMIN_BOOTSTRAP:-kafka:9094}
: "${KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG:?the admin login (kafka.env)}"
: "${STRATUS_KAFKA_USERS:?}" "${STRATUS_KAFKA_ACLS:?}" "${STRATUS_KAFKA_TOPICS:?}"

umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
admin=$tmp/admin.properties
printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=%s\n' \
  "$KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG" >"$admin"
kafka() { "$bin/$1" --bootstrap-server "$bootstrap" --command-config "$admin" "${@:2}"; }

for spec in $STRATUS_KAFKA_TOPICS; do
  kafka kafka-topics.sh --create --if-not-exists --topic "${spec%%:*}" --partitions "${spec##*:}" --replication-factor 1
done

# The passwords go through a file, never a command line (where `ps` on the
# host shows them). In a file kafka-configs.sh takes the credential without
# the brackets of --add-config, and a password must hold no comma.
for user in $STRATUS_KAFKA_USERS; do
  var=SCRAM_PASSWORD_$(printf '%s' "$user" | tr 'a-z-' 'A-Z_')
  pw=${!var:-}
  [ -n "$pw" ] || { echo "kafka-init: $var is not set (kafka-users.env)" >&2; exit 1; }
  case $pw in *,*) echo "kafka-init: $var holds a comma" >&2; exit 1 ;; esac
  printf 'SCRAM-SHA-512=password=%s\n' "$pw" >"$tmp/scram.properties"
  kafka kafka-configs.sh --alter --entity-type users --entity-name "$user" --add-config-file "$tmp/scram.properties"
  rm -f "$tmp/scram.properties"
done

while read -r user resource ops extra; do
  [ -n "$user" ] || continue
  [ -z "$extra" ] || { echo "kafka-init: bad ACL line: $user $resource $ops $extra" >&2; exit 1; }
  case $resource in
    topic:?*) res=(--topic "${resource#topic:}") ;;
    group:?*) res=(--group "${resource#group:}") ;;
    *) echo "kafka-init: bad ACL resource $resource (topic:NAME or group:NAME)" >&2; exit 1 ;;
  esac
  opargs=()
  for op in ${ops//,/ }; do opargs+=(--operation "$op"); done
  kafka kafka-acls.sh --add --allow-principal "User:$user" "${opargs[@]}" "${res[@]}" --resource-pattern-type literal >/dev/null
  echo "kafka-init: User:$user may $ops on $resource"
done <<<"$STRATUS_KAFKA_ACLS"

kafka kafka-acls.sh --list
