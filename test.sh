#!/usr/bin/env bash
# Runs every test of Mesh SDK. Provisions what the integration tests need first, idempotently:
#   - Debian packages: docker.io, etcd-server, etcd-client, dnsmasq-base, busybox-static, socat, openssl, chromium (apt, when missing;
#     chromium is the headless browser the diagnostics page test drives, tests/Mesh.AspNetCore.Tests/Diagnostics)
#   - a Docker engine answering on /var/run/docker.sock (dockerd is started when none answers)
# etcd and dnsmasq are started by the tests themselves, on loopback ports, with their own data.
# Then the container suite (tests/Mesh.Containers.Tests) runs a second time against the same engine served over TLS with
# client-certificate verification, as CI systems serve it (GitLab's docker:dind on tcp://docker:2376): socat on
# 127.0.0.2 in front of the engine socket, with a CA and certificates made here, reached through DOCKER_HOST,
# DOCKER_TLS_VERIFY and DOCKER_CERT_PATH. socat is stopped by its PID afterwards.
# Then the consumer smoke (eng/consumer-smoke.sh): the packages packed into a temporary folder and used by a fresh
# project made with `dotnet new xunit` outside the solution, as README.md and docs/testing.md say; its checks count.
# Then a minute of soak under chaos and a short overload (bench/Mesh.Soak --ci), alone after the suites; each counts.
# Prints "N passed, N failed, N skipped" as its last line and exits non-zero when anything failed.
#
# Usage: ./test.sh [extra 'dotnet test' arguments]      (CI=true makes missing components a failure)
set -uo pipefail
cd "$(dirname "$0")"

say() { printf '[test.sh] %s\n' "$*"; }
DOCKER_SOCK=/var/run/docker.sock
missing=()

# ---------------------------------------------------------------- packages
declare -A need=( [dockerd]=docker.io [etcd]=etcd-server [etcdctl]=etcd-client [dnsmasq]=dnsmasq-base [busybox]=busybox-static [socat]=socat [openssl]=openssl [chromium]=chromium )
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

count() { grep -E "^[[:space:]]+$1: [0-9]+" "$2" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
passed=$(count succeeded "$results/output.log"); failed=$(count failed "$results/output.log"); skipped=$(count skipped "$results/output.log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  say "dotnet test exited with $status (build error, crash or a test module that ran no test); see above"
  failed=$((failed + 1))
fi

# ---------------------------------------------------------------- container suite over TLS
TLS_HOST=127.0.0.2
tls_dir=""; tls_pid=""
stop_tls_engine() {
  if [ -n "$tls_pid" ]; then kill "$tls_pid" 2>/dev/null; wait "$tls_pid" 2>/dev/null; tls_pid=""; fi
  if [ -n "$tls_dir" ]; then rm -rf "$tls_dir"; tls_dir=""; fi
}
trap stop_tls_engine EXIT
trap 'stop_tls_engine; exit 130' INT TERM

# Makes a CA, the engine's certificate (for 127.0.0.2) and a client certificate; starts socat; waits until /_ping answers.
start_tls_engine() {
  command -v socat >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 || { echo "socat or openssl is missing (apt-get install -y socat openssl)"; return 1; }
  [ -S "$DOCKER_SOCK" ] || { echo "no engine socket at $DOCKER_SOCK"; return 1; }
  tls_dir=$(mktemp -d /tmp/mesh-tls-engine.XXXXXX)
  mkdir -p "$tls_dir/client"
  cat > "$tls_dir/openssl.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = mesh
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:$TLS_HOST,DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
CNF
  (
    set -e; cd "$tls_dir"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
    key ca-key.pem
    openssl req -x509 -config openssl.cnf -extensions ca -key ca-key.pem -subj "/CN=Mesh test.sh engine CA" -days 2 -out ca.pem
    for who in server client; do
      key "$who-key.pem"
      openssl req -new -config openssl.cnf -key "$who-key.pem" -subj "/CN=mesh-test-$who" -out "$who.csr"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca-key.pem -set_serial "0x$(openssl rand -hex 12)" -days 2 \
        -extfile openssl.cnf -extensions "$who" -out "$who-cert.pem"
    done
    cp ca.pem client/ca.pem; cp client-cert.pem client/cert.pem; cp client-key.pem client/key.pem
  ) >"$tls_dir/openssl.log" 2>&1 || { echo "making certificates failed:"; cat "$tls_dir/openssl.log"; return 1; }
  local port=""
  for candidate in $(seq 23760 23799); do
    if ! (exec 3<>"/dev/tcp/$TLS_HOST/$candidate") 2>/dev/null; then port=$candidate; break; fi
  done
  [ -n "$port" ] || { echo "no free port on $TLS_HOST between 23760 and 23799"; return 1; }
  socat -t 30 "OPENSSL-LISTEN:$port,bind=$TLS_HOST,reuseaddr,fork,cert=$tls_dir/server-cert.pem,key=$tls_dir/server-key.pem,cafile=$tls_dir/ca.pem,verify=1" \
    "UNIX-CONNECT:$DOCKER_SOCK" >"$tls_dir/socat.log" 2>&1 </dev/null &
  tls_pid=$!
  TLS_ENDPOINT="tcp://$TLS_HOST:$port"
  for _ in $(seq 1 50); do
    if command -v curl >/dev/null 2>&1; then
      curl -fsS --max-time 2 --cacert "$tls_dir/client/ca.pem" --cert "$tls_dir/client/cert.pem" --key "$tls_dir/client/key.pem" \
        "https://$TLS_HOST:$port/_ping" >/dev/null 2>&1 && return 0
    elif (exec 3<>"/dev/tcp/$TLS_HOST/$port") 2>/dev/null; then return 0; fi
    kill -0 "$tls_pid" 2>/dev/null || { echo "socat exited:"; cat "$tls_dir/socat.log"; return 1; }
    sleep 0.1
  done
  echo "the TLS endpoint did not answer within 5 s; socat log:"; cat "$tls_dir/socat.log"; return 1
}

if start_tls_engine >"$results/tls-setup.log" 2>&1; then
  say "running the container suite again over TLS: DOCKER_HOST=$TLS_ENDPOINT DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$tls_dir/client (socat pid $tls_pid)"
  DOCKER_HOST="$TLS_ENDPOINT" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$tls_dir/client" \
    dotnet test --project tests/Mesh.Containers.Tests -c Release --no-build --results-directory "$results/tls" 2>&1 | tee "$results/tls-output.log"
  tls_status=${PIPESTATUS[0]}
  tls_passed=$(count succeeded "$results/tls-output.log"); tls_failed=$(count failed "$results/tls-output.log"); tls_skipped=$(count skipped "$results/tls-output.log")
  if [ "$tls_status" -ne 0 ] && [ "$tls_failed" -eq 0 ]; then
    say "the container suite over TLS exited with $tls_status without a failed test; see above"
    tls_failed=1
  fi
  say "container suite over TLS: $tls_passed passed, $tls_failed failed, $tls_skipped skipped"
  passed=$((passed + tls_passed)); failed=$((failed + tls_failed)); skipped=$((skipped + tls_skipped))
  status=$((status | tls_status))
else
  say "the TLS engine endpoint could not be set up: $(cat "$results/tls-setup.log")"
  if [ "${CI:-}" = "true" ]; then failed=$((failed + 1)); status=1; else skipped=$((skipped + 1)); fi
fi
stop_tls_engine

# ---------------------------------------------------------------- consumer smoke
# Packs what the solution build above produced (no second build) and consumes it from a fresh project.
say "running the consumer smoke: eng/consumer-smoke.sh"
MESH_SMOKE_NO_BUILD=1 bash eng/consumer-smoke.sh 2>&1 | tee "$results/smoke-output.log"
smoke_status=${PIPESTATUS[0]}
smoke_line=$(grep -E "^consumer smoke: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$" "$results/smoke-output.log" | tail -n 1)
if [ -n "$smoke_line" ]; then
  read -r smoke_passed smoke_failed smoke_skipped < <(grep -oE "[0-9]+" <<<"$smoke_line" | tr '\n' ' ')
else
  say "the consumer smoke printed no summary line (exit code $smoke_status)"
  smoke_passed=0; smoke_failed=1; smoke_skipped=0
fi
if [ "$smoke_status" -ne 0 ] && [ "$smoke_failed" -eq 0 ]; then smoke_failed=1; fi
passed=$((passed + smoke_passed)); failed=$((failed + smoke_failed)); skipped=$((skipped + smoke_skipped))
status=$((status | smoke_status))

# ---------------------------------------------------------------- soak and overload (CI-sized)
# A minute of steady traffic under continuous chaos (replica processes over mTLS registered in a real etcd) and a
# short overload at twice the replicas' capacity: bench/Mesh.Soak with --ci, after the suites, alone on the machine
# (their bounds are about the mesh, not about a CPU shared with the rest of the suite). Each run is one check.
soak_dll=bench/Mesh.Soak/bin/Release/net10.0/Mesh.Soak.dll
say "building bench/Mesh.Soak"
if ! dotnet build bench/Mesh.Soak -c Release 2>&1 | tail -n 3; then say "bench/Mesh.Soak did not build"; fi
for check in "soak --duration 00:01:00 --rate 200 --interval 00:00:05 --ci" "overload --duration 00:00:05 --ci"; do
  say "running: dotnet $soak_dll $check"
  # shellcheck disable=SC2086 # the check's words are its arguments
  timeout 600 dotnet "$soak_dll" $check 2>&1 | grep -v -E "^warn: Mesh.Http\[1050\]|retry refused, the retry budget is spent" | tee -a "$results/soak-output.log"
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; say "failed: $check"; fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
