#!/usr/bin/env bash
# deploy/local/chromium.sh install|status
#
# Debian's Chromium for the browser tests (the frontend's end-to-end test
# drives it headless from Go with chromedp). Test tools' own browser
# downloads do not work here; Debian's package does.
#
# install  installs the chromium package with apt-get when no Chromium is
#          found (root, or sudo without a password), checks that it starts
#          headless, and writes STRATUS_CHROMIUM=PATH into the env file.
# status   prints the path and exits 0 when Chromium is there, 3 when not.
#
# Settings (environment):
#   STRATUS_CHROMIUM   use this Chromium binary instead of looking for one
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

LOG_TAG=chromium
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_chromium() {
  local c
  for c in "${STRATUS_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

install() {
  local bin start
  if ! bin=$(find_chromium); then
    start=$(now_s)
    log "installing Debian's chromium (first run only)..."
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
    $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null || die "apt-get install chromium failed"
    bin=$(find_chromium) || die "chromium installed but not found"
    log "installed in $(elapsed "$start")s"
  fi
  # It must start headless here (root needs --no-sandbox).
  if ! timeout 60 "$bin" --headless --no-sandbox --disable-gpu --disable-background-networking \
      --disable-component-update --disable-sync --no-first-run --user-data-dir="$(mktemp -d)" \
      --dump-dom about:blank >/dev/null 2>&1; then
    die "$bin does not start headless"
  fi
  env_set STRATUS_CHROMIUM "$bin"
  log "$("$bin" --version 2>/dev/null || echo "$bin") ready; env in $STRATUS_LOCAL_ENV"
  echo "$bin"
}

case "${1:-}" in
  install | start) install ;;
  status)
    if bin=$(find_chromium); then echo "$bin"; else exit 3; fi
    ;;
  stop) ;; # nothing runs
  *)
    echo "usage: $0 install|status" >&2
    exit 2
    ;;
esac
