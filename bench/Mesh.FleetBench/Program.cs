// Fleet benchmark: build + start + ready (HTTP 200) for a fleet of 5 busybox-httpd containers FROM scratch,
// Mesh.Containers against Testcontainers for .NET 4.16 on the same engine and the same image, in interleaved rounds.
// Usage: dotnet run -c Release --project bench/Mesh.FleetBench [-- --rounds 9 --fleet 5 --no-dotnet]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Docker.DotNet.Models;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using Mesh.Containers;
using Microsoft.Extensions.Logging.Abstractions;

// Testcontainers pins Engine API 1.44, which Docker 20.10 refuses; it must not pull its ryuk image (no registry here);
// and it must probe 127.0.0.1, not the bridge gateway it picks when /.dockerenv exists.
Environment.SetEnvironmentVariable("DOCKER_API_VERSION", Environment.GetEnvironmentVariable("DOCKER_API_VERSION") ?? "1.41");
Environment.SetEnvironmentVariable("TESTCONTAINERS_RYUK_DISABLED", "true");
Environment.SetEnvironmentVariable("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1");

var rounds = Argument("--rounds", 9);
var fleet = Argument("--fleet", 5);
if (!File.Exists("/bin/busybox"))
{
    Console.Error.WriteLine("/bin/busybox is missing: apt-get install -y busybox-static");
    return 2;
}

using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
var ct = timeout.Token;
await using var session = await DockerSession.StartAsync(cancellationToken: ct);
var engine = session.Engine;
Console.WriteLine($"engine {engine.Server} at {engine.Endpoint}, API {engine.ApiVersion}; fleet of {fleet}, {rounds} rounds (+1 warm-up), interleaved");

// One context per contender so that neither profits from layer-cache entries the other just made.
var ourContext = PrepareContext("ours");
var theirContext = PrepareContext("testcontainers");

// The prebuilt image both start from in the "prebuilt" scenario.
var prebuilt = await new DockerImageBuilder(PrepareContext("prebuilt")).WithRepository("mesh-bench/prebuilt").BuildAsync(engine, ct);

// An extra scenario beyond busybox: the tests' small ASP.NET Core service (FROM scratch, self-contained), which takes a
// few hundred milliseconds to start listening, so readiness polling matters. Skipped with --no-dotnet.
var webService = FindWebService();
DockerImage? dotnetImage = null;
if (webService is not null && !args.Contains("--no-dotnet"))
{
    Console.WriteLine($"building the .NET service image from {webService} (cached by source hash) ...");
    dotnetImage = await new DotNetImageBuilder(webService).WithRepository("mesh-bench/webservice").BuildAsync(engine, ct);
}

var ourImages = new HashSet<string>(StringComparer.Ordinal);
string? lastOurs = null;

var scenarios = dotnetImage is null
    ? new[] { "cached build", "changed page", "prebuilt" }
    : new[] { "cached build", "changed page", "prebuilt", "prebuilt .NET" };
var results = scenarios.ToDictionary(s => s, _ => (Ours: new List<double>(), Theirs: new List<double>()));
using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero }) { Timeout = TimeSpan.FromSeconds(5) };

for (var round = 0; round <= rounds; round++)
{
    foreach (var scenario in scenarios)
    {
        var oursFirst = round % 2 == 0;
        for (var turn = 0; turn < 2; turn++)
        {
            var ours = oursFirst == (turn == 0);
            if (scenario == "changed page")
            {
                File.WriteAllText(Path.Combine(ours ? ourContext : theirContext, "www", "index.html"), $"<h1>round {round} {Guid.NewGuid():N}</h1>");
            }

            var elapsed = ours ? await RunOursAsync(scenario) : await RunTestcontainersAsync(scenario);
            await CleanUpImagesAsync(ours);
            if (round > 0)
            {
                (ours ? results[scenario].Ours : results[scenario].Theirs).Add(elapsed);
            }

            Console.WriteLine($"round {round,2} {scenario,-13} {(ours ? "Mesh.Containers" : "Testcontainers"),-15} {elapsed,7:0} ms{(round == 0 ? " (warm-up)" : "")}");
        }
    }
}

await CleanUpImagesAsync(ours: true, final: true);
await CleanUpImagesAsync(ours: false, final: true);

Console.WriteLine();
Console.WriteLine($"Load average at the end: {(File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a")}");
Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, engine {engine.Server} (API {engine.ApiVersion}); fleet of {fleet}; {rounds} interleaved rounds; medians.");
Console.WriteLine();
Console.WriteLine("| scenario | Mesh.Containers | Testcontainers 4.16 | Testcontainers / Mesh.Containers |");
Console.WriteLine("| --- | ---: | ---: | ---: |");
foreach (var scenario in scenarios)
{
    var (o, t) = results[scenario];
    var mo = Median(o);
    var mt = Median(t);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {scenario} | {mo:0} ms | {mt:0} ms | {mt / mo:0.00}x |"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"<!-- {scenario}: ours [{string.Join(", ", o.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))}] testcontainers [{string.Join(", ", t.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))}] -->"));
}

return 0;

// Untimed: images the rounds leave behind (our superseded content-hash tags; Testcontainers' re-tagged, now dangling builds).
async Task CleanUpImagesAsync(bool ours, bool final = false)
{
    if (ours)
    {
        var current = lastOurs;
        var keep = final ? null : current;
        foreach (var reference in ourImages.Where(r => r != keep).ToList())
        {
            await TryDeleteAsync(reference);
            ourImages.Remove(reference);
        }

        return;
    }

    await engine.Client.Images.PruneImagesAsync(new ImagesPruneParameters
    {
        Filters = new Dictionary<string, IDictionary<string, bool>>
        {
            ["dangling"] = new Dictionary<string, bool> { ["true"] = true },
            ["label"] = new Dictionary<string, bool> { ["org.testcontainers"] = true },
        },
    }, ct);
    if (final)
    {
        await TryDeleteAsync("mesh-bench/testcontainers:latest");
    }
}

async Task TryDeleteAsync(string reference)
{
    try
    {
        await engine.Client.Images.DeleteImageAsync(reference, new ImageDeleteParameters { Force = true }, ct);
    }
    catch (Docker.DotNet.DockerApiException)
    {
        // Already gone.
    }
}

async Task<double> RunOursAsync(string scenario)
{
    var stopwatch = Stopwatch.StartNew();
    var (port, path) = scenario == "prebuilt .NET" ? (8080, "/healthz") : (80, "/");
    var image = scenario switch
    {
        "prebuilt" => prebuilt,
        "prebuilt .NET" => dotnetImage!,
        _ => await new DockerImageBuilder(ourContext).WithRepository("mesh-bench/ours").BuildAsync(engine, ct),
    };
    if (scenario is "cached build" or "changed page")
    {
        lastOurs = image.Reference;
        ourImages.Add(image.Reference);
    }

    var containers = await Task.WhenAll(Enumerable.Range(0, fleet).Select(_ => new DockerContainerBuilder(image)
        .WithPortBinding(port)
        .WithWaitStrategy(WaitStrategy.ForHttp(port, path))
        .StartAsync(session, ct)));
    var elapsed = stopwatch.Elapsed.TotalMilliseconds;
    await VerifyAsync(containers.Select(c => new Uri(c.GetBaseAddress(port), path)));
    await Task.WhenAll(containers.Select(c => c.DisposeAsync().AsTask()));
    return elapsed;
}

async Task<double> RunTestcontainersAsync(string scenario)
{
    var stopwatch = Stopwatch.StartNew();
    var (port, path) = scenario == "prebuilt .NET" ? (8080, "/healthz") : (80, "/");
    string reference;
    if (scenario == "prebuilt")
    {
        reference = prebuilt.Reference;
    }
    else if (scenario == "prebuilt .NET")
    {
        reference = dotnetImage!.Reference;
    }
    else
    {
        var image = new ImageFromDockerfileBuilder()
            .WithDockerfileDirectory(theirContext)
            .WithDockerfile("Dockerfile")
            .WithName("mesh-bench/testcontainers:latest")
            .WithCleanUp(false)
            .WithLogger(NullLogger.Instance)
            .Build();
        await image.CreateAsync(ct);
        reference = image.FullName;
    }

    var containers = Enumerable.Range(0, fleet).Select(_ => new ContainerBuilder(reference)
        .WithPortBinding(port, assignRandomHostPort: true)
        .WithCreateParameterModifier(p => p.HostConfig!.PortBindings = new Dictionary<string, IList<PortBinding>>
        {
            [$"{port}/tcp"] = [new PortBinding { HostIP = "127.0.0.1", HostPort = "" }],
        })
        .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort((ushort)port).ForPath(path)))
        .WithLogger(NullLogger.Instance)
        .Build()).ToList();
    await Task.WhenAll(containers.Select(c => c.StartAsync(ct)));
    var elapsed = stopwatch.Elapsed.TotalMilliseconds;
    await VerifyAsync(containers.Select(c => new Uri($"http://127.0.0.1:{c.GetMappedPublicPort(port)}{path}")));
    await Task.WhenAll(containers.Select(c => c.DisposeAsync().AsTask()));
    return elapsed;
}

async Task VerifyAsync(IEnumerable<Uri> addresses)
{
    foreach (var address in addresses)
    {
        if (address.Host != "127.0.0.1")
        {
            throw new InvalidOperationException($"refusing to send traffic to {address}");
        }

        using var response = await http.GetAsync(address, ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"{address} answered {(int)response.StatusCode}");
        }
    }
}

static string? FindWebService()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "tests", "Mesh.Containers.Tests", "Assets", "WebService", "WebService.csproj");
        if (File.Exists(candidate))
        {
            return candidate;
        }
    }

    return null;
}

static string PrepareContext(string name)
{
    var directory = Path.Combine(Path.GetTempPath(), "mesh-fleetbench-" + name);
    if (Directory.Exists(directory))
    {
        Directory.Delete(directory, recursive: true);
    }

    Directory.CreateDirectory(Path.Combine(directory, "www"));
    File.Copy(Path.Combine(AppContext.BaseDirectory, "site", "Dockerfile"), Path.Combine(directory, "Dockerfile"));
    File.Copy(Path.Combine(AppContext.BaseDirectory, "site", "www", "index.html"), Path.Combine(directory, "www", "index.html"));
    File.Copy("/bin/busybox", Path.Combine(directory, "busybox"));
    return directory;
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}

int Argument(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
}
