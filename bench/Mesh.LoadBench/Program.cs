using System.Globalization;
using Mesh.LoadBench;

// The performance proof (issue 11): overhead against direct calls, a sidecar and MESD; tail latency under trouble;
// failover. Load loops are bounded in count and time and target loopback only.
//
//   dotnet run -c Release --project bench/Mesh.LoadBench                   # everything, full rounds
//   dotnet run -c Release --project bench/Mesh.LoadBench -- overhead --quick
//   dotnet run -c Release --project bench/Mesh.LoadBench -- tail-network                # hedging with network-like latency
//   scenarios: overhead | overhead-mtls | trouble | failover | tail | tail-network | tail-network-explain (console only) | fairness | grpc | all (default);
//   --quick: fewer, shorter rounds
if (args.Length >= 2 && args[0] == "serve")
{
    return await ReplicaProcess.ServeAsync(args[1], args.Length >= 3 && args[2] != "--grpc" ? args[2] : null, grpc: args.Contains("--grpc"));
}

var scenario = args.FirstOrDefault(a => !a.StartsWith('-')) ?? "all";
var quick = args.Contains("--quick");
var settings = quick
    ? new BenchSettings(Rounds: 2, Duration: TimeSpan.FromSeconds(1.5), Warmup: TimeSpan.FromSeconds(1), Concurrency: [1, 16])
    : new BenchSettings(Rounds: 5, Duration: TimeSpan.FromSeconds(3), Warmup: TimeSpan.FromSeconds(2), Concurrency: [1, 16]);
var machine = Machine.Describe();
Console.WriteLine($"Mesh SDK load bench: {scenario}{(quick ? " (quick)" : "")} on {machine}");

var report = new Report(machine, string.Join(' ', args.Prepend("dotnet run -c Release --project bench/Mesh.LoadBench --")), settings);
if (scenario is "overhead" or "all")
{
    report.Overhead = await Scenarios.OverheadAsync(settings);
}

if (scenario is "overhead-mtls" or "all")
{
    report.OverheadTls = await Scenarios.OverheadTlsAsync(settings);
}

if (scenario is "trouble" or "all")
{
    report.Trouble = await Scenarios.TroubleAsync(settings);
}

if (scenario is "failover" or "all")
{
    report.Failover = await Scenarios.FailoverAsync(settings);
}

if (scenario is "fairness" or "all")
{
    report.Fairness = await Fairness.RunAsync(settings);
}

if (scenario is "grpc" or "all")
{
    report.Grpc = await GrpcScenario.RunAsync(settings);
}

var root = FindRoot();
if (scenario is "tail" or "all")
{
    var tail = await TailScenario.RunAsync(settings);
    var tailWritten = TailScenario.Write(tail, machine, string.Join(' ', args.Prepend("dotnet run -c Release --project bench/Mesh.LoadBench --")), settings,
        Path.Combine(root, "bench", "results"), Path.Combine(root, "bench", "README.md"));
    Console.WriteLine(TailScenario.Markdown(tail));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Written: {string.Join(", ", tailWritten)}"));
    if (scenario == "tail")
    {
        return 0;
    }
}

if (scenario == "tail-network-explain")
{
    // Diagnostic only (console): who answered the slowest requests of tail-network, with and without mesh-aware hedging.
    await TailNetworkScenario.ExplainAsync(settings);
    return 0;
}

if (scenario is "tail-network" or "all")
{
    var tailNetwork = await TailNetworkScenario.RunAsync(settings);
    var tailNetworkWritten = TailNetworkScenario.Write(tailNetwork, machine, string.Join(' ', args.Prepend("dotnet run -c Release --project bench/Mesh.LoadBench --")), settings,
        Path.Combine(root, "bench", "results"), Path.Combine(root, "bench", "README.md"));
    Console.WriteLine(TailNetworkScenario.Markdown(tailNetwork));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Written: {string.Join(", ", tailNetworkWritten)}"));
    if (scenario == "tail-network")
    {
        return 0;
    }
}

var written = report.Write(Path.Combine(root, "bench", "results"), Path.Combine(root, "bench", "README.md"));
Console.WriteLine(report.Markdown());
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Written: {string.Join(", ", written)}"));
return 0;

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Mesh.Sdk.sln")))
        {
            return dir.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}
