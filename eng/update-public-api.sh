#!/usr/bin/env bash
# Records the current public API of the libraries in their PublicAPI.Unshipped.txt files:
# adds symbols the analyzer reports as undeclared (RS0016) and drops declared symbols that no longer exist (RS0017).
# Usage: eng/update-public-api.sh [project ...]   (default: every project under src/)
set -euo pipefail
cd "$(dirname "$0")/.."
projects=("$@"); [ ${#projects[@]} -gt 0 ] || projects=(src/*/*.csproj)
for proj in "${projects[@]}"; do
  dir=$(dirname "$proj"); file="$dir/PublicAPI.Unshipped.txt"
  log=$(dotnet build "$proj" --no-incremental -p:TreatWarningsAsErrors=false -p:WarningsAsErrors= 2>&1 || true)
  added=$(grep -oE "RS0016: Symbol '.*' is not part of the declared public API" <<<"$log" | sed -E "s/^RS0016: Symbol '(.*)' is not part of the declared public API$/\1/" | sort -u || true)
  removed=$(grep -oE "RS0017: Symbol '.*' is part of the declared API, but is either not public or could not be found" <<<"$log" | sed -E "s/^RS0017: Symbol '(.*)' is part of the declared API.*/\1/" | sort -u || true)
  { head -n 1 "$file"; { tail -n +2 "$file"; if [ -n "$added" ]; then printf '%s\n' "$added"; fi; } | grep -vxF -f <(printf '%s\n' "$removed" | sed '/^$/d'; echo '__none__') | sed '/^$/d' | sort -u; } > "$file.tmp"
  mv "$file.tmp" "$file"
  echo "$file: +$(printf '%s' "$added" | grep -c . || true) -$(printf '%s' "$removed" | grep -c . || true)"
done
