#!/usr/bin/env bash
# Coverage-guided fuzzing of one Mesh SDK parser with AFL++ and SharpFuzz (docs/fuzzing.md).
#
# Usage: bench/Mesh.Fuzz/fuzz.sh <target> [seconds]
#   target:  spiffe-id | spiffe-pattern | svid | dockerignore | etcd | dns
#   seconds: how long afl-fuzz runs (default 600)
# Environment: FUZZ_OUT (default /tmp/mesh-fuzz/<target>) holds the instrumented build and AFL's findings.
#
# What it does, idempotently: installs afl++ (apt, as root) and the sharpfuzz tool (dotnet tool, into /tmp/mesh-fuzz/tools)
# when missing; builds bench/Mesh.Fuzz into $FUZZ_OUT/bin and instruments Mesh.Core, Mesh.Discovery and Mesh.Containers
# there (the source tree's build stays uninstrumented); runs afl-fuzz from bench/Mesh.Fuzz/corpus/<target>; then replays
# every crash and hang AFL kept through the harness without instrumentation, so each one prints the broken invariant.
# Exits non-zero when AFL found a crash or a hang.
set -euo pipefail

target=${1:-}
seconds=${2:-600}
case "$target" in
  spiffe-id|spiffe-pattern|svid|dockerignore|etcd|dns) ;;
  *) echo "usage: $0 <spiffe-id|spiffe-pattern|svid|dockerignore|etcd|dns> [seconds]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-/tmp/mesh-fuzz/$target}
tools=/tmp/mesh-fuzz/tools
say() { printf '[fuzz.sh] %s\n' "$*"; }

if ! command -v afl-fuzz >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing afl++ (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/tmp/mesh-fuzz-apt.log 2>&1 \
      || { apt-get update -qq >>/tmp/mesh-fuzz-apt.log 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >>/tmp/mesh-fuzz-apt.log 2>&1; }
  else
    echo "afl-fuzz is missing: apt-get install -y afl++ (as root)" >&2; exit 1
  fi
fi

if [ ! -x "$tools/sharpfuzz" ]; then
  say "installing the sharpfuzz tool into $tools"
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

say "building the harness into $out/bin (to instrument) and $out/plain (to replay findings)"
rm -rf "$out/bin" "$out/plain"
mkdir -p "$out"
for folder in bin plain; do
  dotnet build "$here/Mesh.Fuzz.csproj" -c Release -o "$out/$folder" -p:UseAppHost=false >"$out/build.log" 2>&1 \
    || { tail -n 20 "$out/build.log"; exit 1; }
done
for assembly in Mesh.Core Mesh.Discovery Mesh.Containers; do
  "$tools/sharpfuzz" "$out/bin/$assembly.dll" >/dev/null
done

mkdir -p "$out/findings"
say "afl-fuzz on '$target' for $seconds s (corpus: $here/corpus/$target, findings: $out/findings)"
# dotnet is not an AFL-instrumented binary (SharpFuzz speaks AFL's forkserver protocol itself); the machine's
# core_pattern and CPU governor are not ours to change.
AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
  afl-fuzz -V "$seconds" -t 10000 -m none -i "$here/corpus/$target" -o "$out/findings" -- dotnet "$out/bin/Mesh.Fuzz.dll" "$target" \
  >"$out/afl.log" 2>&1 || { tail -n 30 "$out/afl.log"; exit 1; }

stats="$out/findings/default/fuzzer_stats"
if [ -f "$stats" ]; then
  grep -E '^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg|run_time) ' "$stats" | sed 's/^/[fuzz.sh]   /'
fi

found=0
for kind in crashes hangs; do
  dir="$out/findings/default/$kind"
  [ -d "$dir" ] || continue
  for input in "$dir"/id:*; do
    [ -e "$input" ] || continue
    found=$((found + 1))
    say "$kind: $input"
    timeout 30 dotnet "$out/plain/Mesh.Fuzz.dll" "$target" --replay "$input" 2>&1 | tail -n 5 || true
  done
done
if [ "$found" -gt 0 ]; then say "$found finding(s); turn each into a regression test (docs/fuzzing.md)"; exit 1; fi
say "no crash or hang found"
