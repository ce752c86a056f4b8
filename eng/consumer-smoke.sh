#!/usr/bin/env bash
# The consumer's view: packs the five packages into a temporary folder and builds a fresh project made with
# `dotnet new xunit`, outside the solution, that takes them by version from that folder plus the machine's own NuGet
# sources (a nuget.config that adds the folder, as README.md says; it names no package host), then
#   1. checks the packages: a .snupkg beside each .nupkg, deterministic path-mapped PDB paths, no placeholder URL,
#      a README, a description and tags of its own for each;
#   2. checks that Mesh.Testing in the project as `dotnet new xunit` makes it (xunit 2) fails with CS0433, as
#      docs/testing.md says;
#   3. converts the project to xunit.v3 the way docs/testing.md §1 says and runs, with `dotnet test`:
#      the README's usage (its C# block and its appsettings.json, copied from README.md) against two real replicas,
#      the first fleet test of docs/testing.md (copied from it), and a fleet of the test replica in containers built
#      from the packed Mesh.Testing (ContainerReplicaTemplate.ForTestReplicaAsync, no project of ours).
# Stale copies cannot be used: the version is unique to the run (0.1.0-smoke.<time>.<pid>), so no copy of it is in any
# NuGet cache. Everything the run made is removed afterwards, the run's Mesh.* folders in the NuGet cache included
# (other packages stay cached there, so later runs restore fast).
# Prints "consumer smoke: N passed, N failed, N skipped" as its last line; exits non-zero when anything failed.
#
# Usage: eng/consumer-smoke.sh          (CI=true makes a missing Docker engine a failure instead of a skip)
set -uo pipefail
root=${MESH_REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
t0=$(date +%s)
say() { printf '[smoke %3ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
passed=0; failed=0; skipped=0
pass() { passed=$((passed + 1)); say "PASS $*"; }
fail() { failed=$((failed + 1)); say "FAIL $*"; }
finish() { echo "consumer smoke: $passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }

work=$(mktemp -d /tmp/mesh-consumer-smoke.XXXXXX)
cleanup() {
  rm -rf "$work"
  if [ -n "${packages:-}" ] && [ -n "${version:-}" ]; then
    for id in mesh.core mesh.aspnetcore mesh.discovery mesh.containers mesh.testing; do
      rm -rf "${packages%/}/$id/$version"
      rmdir "${packages%/}/$id" 2>/dev/null || true   # the id's folder too, when no other version is in it
    done
  fi
}
trap cleanup EXIT
version="0.1.0-smoke.$(date -u +%Y%m%d%H%M%S).$$"
feed="$work/feed"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
packages=$(dotnet nuget locals global-packages --list 2>/dev/null | sed -n 's/^global-packages: //p')

# ------------------------------------------------------------------ 1. pack
say "packing $version into $feed"
# MESH_SMOKE_NO_BUILD=1 (test.sh, after its Release build of the solution): pack what was built, without building again.
no_build=(); [ "${MESH_SMOKE_NO_BUILD:-}" = "1" ] && no_build=(--no-build)
if ! dotnet pack "$root/eng/packages.slnf" -c Release -o "$feed" -p:PackageVersion="$version" "${no_build[@]}" -v q --nologo >"$work/pack.log" 2>&1; then
  fail "dotnet pack:"; tail -n 30 "$work/pack.log"; finish
fi

problems=()
declare -A tags_seen=()
for id in Mesh.Core Mesh.AspNetCore Mesh.Discovery Mesh.Containers Mesh.Testing; do
  nupkg="$feed/$id.$version.nupkg"; snupkg="$feed/$id.$version.snupkg"
  [ -f "$nupkg" ] || { problems+=("$id: no $nupkg"); continue; }
  [ -f "$snupkg" ] || problems+=("$id: no symbol package $snupkg")
  nuspec=$(unzip -p "$nupkg" "$id.nuspec")
  grep -q "example.invalid" <<<"$nuspec" && problems+=("$id: a placeholder URL in its nuspec")
  grep -q "<readme>README.md</readme>" <<<"$nuspec" || problems+=("$id: no readme in its nuspec")
  listing=$(unzip -l "$nupkg"); symbols=$(unzip -l "$snupkg" 2>/dev/null)   # (no `unzip | grep -q` under pipefail: SIGPIPE)
  grep -q " README.md$" <<<"$listing" || problems+=("$id: README.md missing from the package")
  grep -q "<description>.\{40,\}</description>" <<<"$nuspec" || problems+=("$id: no description")
  tags=$(sed -n 's|.*<tags>\(.*\)</tags>.*|\1|p' <<<"$nuspec")
  [ -n "$tags" ] || problems+=("$id: no tags")
  [ -n "$tags" ] && [ -n "${tags_seen[$tags]:-}" ] && problems+=("$id: the same tags as ${tags_seen[$tags]}")
  tags_seen[$tags]=$id
  unzip -p "$nupkg" "lib/net10.0/$id.dll" >"$work/$id.dll"
  pdb_path=$(strings -n 8 "$work/$id.dll" | grep "\.pdb$" | head -n 1)
  [[ "$pdb_path" == /_/* ]] || problems+=("$id: the DLL names its PDB at '$pdb_path', not a path-mapped /_/... path")
  grep -q "lib/net10.0/$id.pdb" <<<"$symbols" || problems+=("$id: no PDB in the symbol package")
done
testing_nuspec=$(unzip -p "$feed/Mesh.Testing.$version.nupkg" Mesh.Testing.nuspec)
grep -q 'frameworkReference name="Microsoft.AspNetCore.App"' <<<"$testing_nuspec" \
  || problems+=("Mesh.Testing: no framework reference to Microsoft.AspNetCore.App")
if [ ${#problems[@]} -eq 0 ]; then pass "five packages with symbols, path-mapped PDBs, READMEs, descriptions and tags of their own"; else
  fail "package metadata:"; printf '  %s\n' "${problems[@]}"; fi

# ------------------------------------------------------------------ 2. a fresh xunit project, as dotnet new makes it
app="$work/Consumer.Tests"
say "dotnet new xunit in $app"
dotnet new xunit -n Consumer.Tests -o "$app" --no-restore >"$work/new.log" 2>&1 || { fail "dotnet new xunit:"; cat "$work/new.log"; finish; }
cat > "$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<!-- Added to the machine's own sources (no <clear />), as README.md says. -->
<configuration>
  <packageSources>
    <add key="mesh-smoke" value="$feed" />
  </packageSources>
</configuration>
XML
cd "$app"
dotnet add package Mesh.Testing --version "$version" >"$work/add-xunit2.log" 2>&1 || { fail "dotnet add package Mesh.Testing:"; tail -n 20 "$work/add-xunit2.log"; finish; }
say "building the xunit 2 project with Mesh.Testing"
if dotnet build -c Release -v q --nologo >"$work/build-xunit2.log" 2>&1; then
  fail "the xunit 2 project of 'dotnet new xunit' built with Mesh.Testing; docs/testing.md says it fails with CS0433"
elif grep -q "error CS0433" "$work/build-xunit2.log"; then
  pass "the xunit 2 project of 'dotnet new xunit' fails with CS0433 once Mesh.Testing is added, as docs/testing.md says"
else
  fail "the xunit 2 project failed, but not with CS0433:"; grep -m5 " error " "$work/build-xunit2.log"
fi

# ------------------------------------------------------------------ 3. converted as docs/testing.md §1 says, then run
say "converting to xunit.v3 as docs/testing.md says"
{
  dotnet remove package xunit && dotnet remove package xunit.runner.visualstudio &&
  dotnet remove package Microsoft.NET.Test.Sdk && dotnet remove package coverlet.collector &&
  dotnet add package xunit.v3 --version 4.0.2 --no-restore &&
  dotnet add package Grpc.Net.ClientFactory --version 2.85.0 --no-restore &&   # README: only for AddGrpcClient
  sed -i 's|<TargetFramework>net10.0</TargetFramework>|&<OutputType>Exe</OutputType>|' Consumer.Tests.csproj &&
  echo '{ "test": { "runner": "Microsoft.Testing.Platform" } }' > global.json
} >"$work/convert.log" 2>&1 || { fail "converting to xunit.v3 as docs/testing.md says:"; tail -n 20 "$work/convert.log"; finish; }

# The docs' own code, copied from the Markdown files by the name in their marker.
block() {  # block FILE NAME: the fenced block after <!-- snippet: name NAME ... -->
  awk -v name="$2" '
    $0 ~ "<!-- snippet: name " name "( |;|-->)" { armed = 1; next }
    armed && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$root/$1"
}
block README.md readme-config > appsettings.json
usage=$(block README.md readme-usage)
first_fleet=$(block docs/testing.md testing-first-fleet)
{ [ -s appsettings.json ] && [ -n "$usage" ] && [ -n "$first_fleet" ]; } || { fail "the README's or testing.md's blocks were not found by their markers"; finish; }
sed -i 's|</Project>|  <ItemGroup><None Update="appsettings.json" CopyToOutputDirectory="PreserveNewest" /></ItemGroup>\n</Project>|' Consumer.Tests.csproj
rm -f UnitTest1.cs
printf '%s\n' "$first_fleet" > FirstFleetTests.cs
cat > ReadmeUsageTests.cs <<CS
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Consumer.Tests;

public sealed class ReadmeUsageTests
{
    [Fact]
    public async Task The_readme_usage_reaches_both_configured_replicas()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var first = await InProcessReplica.StartAsync("catalog-1", cancellationToken: ct);
        await using var second = await InProcessReplica.StartAsync("catalog-2", cancellationToken: ct);
        // The README's appsettings.json, with the replicas' addresses in place of its (a documented command-line override).
        string[] args = ["--urls=http://127.0.0.1:0", \$"--Mesh:Services:catalog:Endpoints:0:Address={first.Address}", \$"--Mesh:Services:catalog:Endpoints:1={second.Address}"];
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

        // ---- README.md, "Use it" (copied by eng/consumer-smoke.sh) ----
$usage
        // ----

        await using var app = builder.Build();
        await app.StartAsync(ct);
        var catalog = app.Services.GetRequiredService<CatalogClient>();
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => catalog.GetItemsAsync(ct)));
        Assert.Contains("catalog-1", answers);
        Assert.Contains("catalog-2", answers);
        Assert.NotNull(app.Services.GetRequiredService<Catalog.CatalogClient>());
        await app.StopAsync(ct);
    }
}

public sealed class CatalogClient(HttpClient http)
{
    public Task<string> GetItemsAsync(CancellationToken ct) => http.GetStringAsync("/items", ct);
}

// What Grpc.Tools generates for a .proto's "service Catalog", reduced to the client.
public static partial class Catalog
{
    public partial class CatalogClient : Grpc.Core.ClientBase<CatalogClient>
    {
        public CatalogClient(Grpc.Core.CallInvoker callInvoker) : base(callInvoker) { }
        protected CatalogClient(ClientBaseConfiguration configuration) : base(configuration) { }
        protected override CatalogClient NewInstance(ClientBaseConfiguration configuration) => new(configuration);
    }
}
CS
cat > ContainerFleetTests.cs <<'CS'
using Mesh;
using Mesh.Containers;
using Mesh.Testing;

namespace Consumer.Tests;

public sealed class ContainerFleetTests
{
    [Fact]
    public async Task The_test_replica_runs_in_containers_from_the_package_alone()
    {
        var ct = TestContext.Current.CancellationToken;
        DockerSession session;
        try
        {
            session = await DockerSession.StartAsync(cancellationToken: ct);
        }
        catch (DockerEngineUnavailableException e) when (Environment.GetEnvironmentVariable("CI") != "true")
        {
            Assert.Skip($"No Docker engine: {e.Message}");
            return;
        }

        await using (session)
        {
            await using var template = await ContainerReplicaTemplate.ForTestReplicaAsync(session, cancellationToken: ct);
            await using var fleet = await ServiceFleet.StartAsync("catalog", 2, template, cancellationToken: ct);
            await using var mesh = MeshTestClient.Create(fleet, s => s.LoadBalancer = LoadBalancerKind.RoundRobin);

            var report = await TrafficDriver.RunAsync(mesh.Client, new TrafficOptions { RequestCount = 20, Concurrency = 1 }, ct);
            await fleet[0].ConfigureAsync(new ReplicaChange { Latency = TimeSpan.FromMilliseconds(1) }, ct);   // the control API answers

            report.AssertNoFailures();
            Assert.Equal(10, report.CountOf(fleet[0].Id));
            Assert.Equal(10, report.CountOf(fleet[1].Id));
        }
    }
}
CS

say "dotnet test (xunit.v3 on Microsoft.Testing.Platform)"
dotnet test -c Release >"$work/test.log" 2>&1
test_status=$?
clean=$(sed 's/\x1b\[[0-9;]*m//g' "$work/test.log")
count() { grep -E "^[[:space:]]+$1: [0-9]+" <<<"$clean" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
t_passed=$(count succeeded); t_failed=$(count failed); t_skipped=$(count skipped)
summary="$t_passed passed, $t_failed failed, $t_skipped skipped"
passed=$((passed + t_passed)); failed=$((failed + t_failed)); skipped=$((skipped + t_skipped))
if [ "$test_status" -ne 0 ] || [ "$t_passed" -lt 3 ]; then
  [ "$t_failed" -gt 0 ] || failed=$((failed + 1))
  say "dotnet test in the consumer project exited with $test_status ($summary):"
  grep -E "error|failed|FAIL|Assert|Exception" <<<"$clean" | head -n 40
else
  say "consumer project: $summary"
fi
say "done"
finish
