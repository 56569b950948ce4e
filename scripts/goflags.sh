#!/usr/bin/env bash
# Prints the GOFLAGS every Stratus build and test runs with: yours, plus
# -modfile=… from tools/prismpatch, which builds Beam prism's job service on
# loopback with a guard that refuses jobs from other processes (SECURITY.md).
# make, scripts/test.sh, scripts/lint.sh and the Dockerfile use it:
#
#   export GOFLAGS="$(scripts/goflags.sh)"
#   go test ./...
#
# A binary built without it refuses to start prism (runners checks).
set -euo pipefail
cd "$(dirname "$0")/.."
# Your own flags, less a -modfile from an earlier call.
# The Beam module must be in the module cache to be patched.
GOFLAGS= go mod download github.com/apache/beam/sdks/v2
mine=$(sed -E 's/(^| )-modfile=[^ ]*//g; s/^ +//' <<<"${GOFLAGS:-$(GOFLAGS= go env GOFLAGS)}")
modfile=$(GOFLAGS= go run ./tools/prismpatch -out .cache/prism)
echo "${mine:+$mine }-modfile=$modfile"
