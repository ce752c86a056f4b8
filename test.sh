#!/usr/bin/env bash
# Runs every test of Mesh SDK. Provisions what the integration tests need first, idempotently:
#   - Debian packages: docker.io, etcd-server, etcd-client, dnsmasq-base, busybox-static (apt, when missing)
#   - a Docker engine answering on /var/run/docker.sock (dockerd is started when none answers)
# etcd and dnsmasq are started by the tests themselves, on loopback ports, with their own data.
# Prints "N passed, N failed, N skipped" as its last line and exits non-zero when anything failed.
#
# Usage: ./test.sh [extra 'dotnet test' arguments]      (CI=true makes missing components a failure)
set -uo pipefail
cd "$(dirname "$0")"

say() { printf '[test.sh] %s\n' "$*"; }
DOCKER_SOCK=/var/run/docker.sock
missing=()

# ---------------------------------------------------------------- packages
declare -A need=( [dockerd]=docker.io [etcd]=etcd-server [etcdctl]=etcd-client [dnsmasq]=dnsmasq-base [busybox]=busybox-static )
have_cmd() {
  case "$1" in
    busybox) [ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 ;;
    dnsmasq) command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] ;;
    dockerd) command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}
for cmd in "${!need[@]}"; do have_cmd "$cmd" || missing+=("${need[$cmd]}"); done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/mesh-apt.log 2>&1; then
      apt-get update -qq >>/tmp/mesh-apt.log 2>&1
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/mesh-apt.log 2>&1 \
        || { say "apt-get install failed (log: /tmp/mesh-apt.log):"; tail -n 20 /tmp/mesh-apt.log; }
    fi
  else
    say "missing: ${missing[*]}. Install them as root with: apt-get install -y ${missing[*]}"
    say "(integration tests that need them skip outside CI and fail with CI=true)"
  fi
fi

# ---------------------------------------------------------------- docker engine
engine_answers() {
  command -v curl >/dev/null 2>&1 || { [ -S "$DOCKER_SOCK" ] && return 0; return 1; }
  curl -fsS --max-time 2 --unix-socket "$DOCKER_SOCK" http://localhost/_ping >/dev/null 2>&1
}
if ! engine_answers; then
  DOCKERD=$(command -v dockerd || echo /usr/sbin/dockerd)
  if [ -x "$DOCKERD" ] && [ "$(id -u)" -eq 0 ]; then
    say "starting dockerd (log: /tmp/dockerd.log)"
    setsid "$DOCKERD" >/tmp/dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 60); do engine_answers && break; sleep 1; done
    if engine_answers; then say "docker engine is up"; else
      say "dockerd did not answer on $DOCKER_SOCK within 60 s; last lines of /tmp/dockerd.log:"; tail -n 15 /tmp/dockerd.log
    fi
  else
    say "no Docker engine answers on $DOCKER_SOCK and dockerd cannot be started here (need root and docker.io)"
  fi
fi

# ---------------------------------------------------------------- tests
results=$(mktemp -d)
say "running: dotnet test --solution Mesh.Sdk.sln -c Release $*"
dotnet test --solution Mesh.Sdk.sln -c Release --results-directory "$results" "$@" 2>&1 | tee "$results/output.log"
status=${PIPESTATUS[0]}

count() { grep -E "^[[:space:]]+$1: [0-9]+" "$results/output.log" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
passed=$(count succeeded); failed=$(count failed); skipped=$(count skipped)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  say "dotnet test exited with $status (build error, crash or a test module that ran no test); see above"
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
