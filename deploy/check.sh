#!/usr/bin/env bash
# deploy/check.sh: every check of deploy/ that runs without a container
# engine, a cluster or VMs. Exits non-zero on the first failure; nothing is
# skipped: a tool that is missing is installed (Debian's packages) or the
# check fails.
#
#   deploy/check.sh            all checks (scripts/test.sh runs this)
#   deploy/check.sh docker k8s kafka nginx ansible vagrant   some of them
#
# docker   deploy/docker: Dockerfile lint (BuildKit's parser), the same static
#          build the Dockerfile runs (CGO_ENABLED=0 … ./cmd/stratus) with its
#          ELF checked for no interpreter, compose.yaml loaded strictly by
#          compose-go and its references checked (go vet + go test)
# k8s      deploy/k8s: every overlay built with kustomize (krusty), every
#          object decoded strictly into its typed struct, custom resources
#          validated against the vendored CRDs, cross references, the Kafka
#          ACLs (KafkaUsers)
# kafka    the compose file's Kafka on a real broker, on loopback: its
#          settings turned into server.properties by the image's own
#          entrypoint class, kafka-init.sh run, then every write, read and
#          offset commit of each Stratus principal allowed or refused as the
#          ACLs say (deploy/docker TestKafkaACLsOnRealBroker). Kafka's jars
#          are deploy/local's (resolved from Maven Central by its pom when
#          missing); needs Java 17+
# nginx    deploy/nginx: the rendered config passes `nginx -t`
# ansible  deploy/ansible: ansible-playbook --syntax-check, and every role
#          template rendered for every inventory host (render-check.yml)
# vagrant  deploy/vagrant: vagrant validate (with Debian's vagrant-libvirt)
#
# On a warm Go build cache it takes about a minute; a cold one first builds
# the stratus binary (several minutes on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
# deploy/docker and deploy/k8s are Go modules of their own: the main
# module's -modfile (scripts/goflags.sh, set by make and scripts/test.sh)
# must not reach them. TestStaticBuild names it in the Dockerfile's build.
export GOFLAGS=
root=$(pwd)

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(docker k8s kafka nginx ansible vagrant)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step() { echo "-- deploy: $*"; }
fail() { echo "deploy/check.sh: $*" >&2; exit 1; }

# apt_install PACKAGE…: Debian's packages, as root or through sudo.
apt_install() {
  step "installing $*"
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || fail "$* missing and this user cannot install them (no root, no sudo)"
    sudo=sudo
  fi
  if [ ! -f "$tmp/apt-updated" ]; then
    $sudo apt-get update -qq || fail "apt-get update failed"
    touch "$tmp/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >"$tmp/apt.log" 2>&1 ||
    { cat "$tmp/apt.log" >&2; fail "apt-get install $* failed"; }
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

# need CMD PACKAGE…: installs the packages when CMD is missing.
need() {
  local cmd=$1; shift
  have "$cmd" && return
  apt_install "$@"
  have "$cmd" || fail "$cmd still missing after installing $*"
}

# gomod DIR: gofmt, go vet and go test in one of deploy's Go modules.
gomod() {
  local dir=$1
  local unformatted
  unformatted=$(cd "$dir" && gofmt -l .)
  [ -z "$unformatted" ] || fail "not gofmt-formatted in $dir: $unformatted"
  # Another module: the main module's -modfile (scripts/goflags.sh) must
  # not reach it.
  (cd "$dir" && GOFLAGS= go vet ./...) || fail "go vet in $dir"
  (cd "$dir" && GOFLAGS= go test -count=1 -timeout 20m ./...) || fail "go test in $dir"
}

for s in "${steps[@]}"; do
  case $s in
    docker)
      step "docker: Dockerfile lint, static build, compose (deploy/docker)"
      need file file
      gomod deploy/docker
      ;;
    k8s)
      step "k8s: kustomize overlays, strict decoding, CRD schemas, references (deploy/k8s)"
      gomod deploy/k8s
      ;;
    kafka)
      step "kafka: the compose broker, kafka-init.sh and the ACLs on a real Kafka (deploy/docker)"
      need java openjdk-17-jre-headless
      lib=${STRATUS_KAFKA_LIB:-}
      if [ -z "$lib" ]; then
        # deploy/local/kafka.sh's jars when it has resolved them, else the same pom's.
        lib="${STRATUS_LOCAL_DIR:-$HOME/.cache/stratus-local}/kafka/lib"
        if ! ls "$lib"/kafka_2.13-*.jar >/dev/null 2>&1; then
          need mvn maven
          lib="$tmp/kafka-lib"
          mvn -q -B -Dstyle.color=never -f deploy/local/kafka/pom.xml dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$lib" >"$tmp/mvn.log" 2>&1 ||
            { cat "$tmp/mvn.log" >&2; fail "mvn could not resolve Kafka's jars (deploy/local/kafka/pom.xml)"; }
        fi
      fi
      (cd deploy/docker && GOFLAGS= STRATUS_KAFKA_LIB=$lib go test -count=1 -timeout 10m -run '^TestKafkaACLsOnRealBroker$' -v . >"$tmp/kafka.log" 2>&1) ||
        { tail -n 80 "$tmp/kafka.log" >&2; fail "the ACLs on a real Kafka (TestKafkaACLsOnRealBroker)"; }
      grep -q -- '--- PASS: TestKafkaACLsOnRealBroker' "$tmp/kafka.log" || { tail -n 20 "$tmp/kafka.log" >&2; fail "TestKafkaACLsOnRealBroker did not run"; }
      grep -E '(User:|wrong password).* (allowed|refused: )' "$tmp/kafka.log" | sed 's/^ *broker_test.go:[0-9]*: /   /'
      ;;
    nginx)
      step "nginx: nginx -t on the rendered config (deploy/nginx)"
      need nginx nginx
      sh -n deploy/nginx/render.sh
      bash -n deploy/nginx/run.sh
      deploy/nginx/run.sh --check --upstream 127.0.0.1:18081 --upstream 127.0.0.1:18082
      deploy/nginx/run.sh --check --upstream localhost:18081 --balance round_robin --max-fails 1 --fail-timeout 5s
      ;;
    ansible)
      step "ansible: syntax check and template rendering (deploy/ansible)"
      need ansible-playbook ansible
      need nginx nginx
      (cd deploy/ansible &&
        ansible-playbook -i inventory.example.yml --syntax-check site.yml &&
        ansible-playbook -i inventory.example.yml --syntax-check render-check.yml) || fail "ansible-playbook --syntax-check"
      mkdir -p "$tmp/ansible"
      (cd deploy/ansible && RENDER_DIR="$tmp/ansible" ANSIBLE_NOCOLOR=1 \
        ansible-playbook -i inventory.example.yml render-check.yml >"$tmp/ansible.log" 2>&1) ||
        { cat "$tmp/ansible.log" >&2; fail "ansible render-check.yml"; }
      n=$(find "$tmp/ansible" -type f | wc -l)
      [ "$n" -ge 20 ] || { cat "$tmp/ansible.log" >&2; fail "render-check.yml rendered only $n files"; }
      echo "   rendered $n files for $(ls "$tmp/ansible" | wc -l) hosts"
      ;;
    vagrant)
      step "vagrant: vagrant validate (deploy/vagrant, libvirt provider)"
      need vagrant vagrant vagrant-libvirt
      if ! vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt; then
        apt_install vagrant-libvirt
        vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt || fail "vagrant-libvirt not seen by vagrant after installing it"
      fi
      (cd deploy/vagrant && VAGRANT_DOTFILE_PATH="$tmp/vagrant" VAGRANT_CHECKPOINT_DISABLE=1 vagrant validate) ||
        fail "vagrant validate"
      ;;
    *) fail "unknown step $s (docker k8s kafka nginx ansible vagrant)" ;;
  esac
done
echo "-- deploy: all checks passed (${steps[*]}) in $root/deploy"
