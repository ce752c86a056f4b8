using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.LoadBench;

/// <summary>The tail-network run: per configuration and round, and what it measured besides.</summary>
/// <param name="Results">One entry per configuration, scenario and round.</param>
/// <param name="FixedDelaysMs">The fixed hedging delay of each round (that round's all-healthy p95), ms.</param>
/// <param name="TimerP50Ms">How long a 1 ms .NET timer took in the client process, median, ms.</param>
/// <param name="TimerP99Ms">The same, 99th percentile, ms.</param>
internal sealed record TailNetworkRun(List<TailResult> Results, List<double> FixedDelaysMs, double TimerP50Ms, double TimerP99Ms);

/// <summary>
/// The tail scenario with network-like latency (issue 21): every replica answers after a base delay of
/// <see cref="BaseMs"/> plus an exponentially distributed jitter of mean <see cref="JitterMeanMs"/> (a network round trip
/// and a service time; <see cref="NetworkLatency"/>), and one of the five adds +50 ms to 10% of its answers. No hedging,
/// the standard hedging handler with its defaults and with a fixed delay equal to the all-healthy p95 of the same round
/// (as configured, and with its circuit breaker not counting hedges the mesh's hedge budget refused), and mesh-aware
/// hedging (AddMeshHedging) with its defaults and with <c>Hedging:MinDelay</c> 5 ms, in interleaved rounds; p50, p95,
/// p99, p99.9 and the extra requests sent.
/// </summary>
internal static class TailNetworkScenario
{
    /// <summary>The base delay of every answer, ms: a round trip within a region plus a fast service's own time.</summary>
    public const double BaseMs = 2;

    /// <summary>The mean of the exponential jitter on top, ms (median +0.35 ms, p99 +2.3 ms).</summary>
    public const double JitterMeanMs = 0.5;

    private const int Concurrency = 8;
    private const string FixedP95 = "standard hedging, fixed delay = all-healthy p95";

    public static async Task<TailNetworkRun> RunAsync(BenchSettings settings)
    {
        var replicas = new List<ReplicaProcess>();
        var results = new List<TailResult>();
        var fixedDelays = new List<double>();
        double timerP50 = double.NaN, timerP99 = double.NaN;
        using var control = new HttpClient();
        try
        {
            await StartReplicasAsync(replicas, control);

            (timerP50, timerP99) = await ProbeTimerAsync();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  a 1 ms timer fires after p50 {timerP50:F2} ms, p99 {timerP99:F2} ms"));
            var endpoints = replicas.Select(r => r.Address).ToList();
            for (var round = 0; round < settings.Rounds; round++)
            {
                await replicas[4].ControlAsync(control, "reset", "");
                var healthy = await MeasureAsync(TailReport.NoHedging, null, endpoints, settings);
                results.Add(Print(new TailResult(TailReport.NoHedging, TailReport.AllHealthy, healthy.Run, healthy.Attempts, healthy.SlowShare, round), round, settings));
                var healthyHedged = await MeasureAsync(TailReport.MeshHedging, static b => b.AddMeshHedging(), endpoints, settings);
                results.Add(Print(new TailResult(TailReport.MeshHedging, TailReport.AllHealthy, healthyHedged.Run, healthyHedged.Attempts, healthyHedged.SlowShare, round), round, settings));

                // The fixed delay "The Tail at Scale" recommends: the 95th percentile, here of this round's all-healthy run.
                var p95 = TimeSpan.FromMicroseconds(Math.Ceiling(healthy.Run.P95Us / 100) * 100);
                fixedDelays.Add(p95.TotalMilliseconds);
                await replicas[4].ControlAsync(control, "latency", "50");
                await replicas[4].ControlAsync(control, "latency-rate", "0.1");
                var configs = new (string Name, Action<IHttpClientBuilder>? Outer)[]
                {
                    (TailReport.NoHedging, null),
                    ("standard hedging (defaults)", static b => b.AddStandardHedgingHandler()),
                    (FixedP95, b => b.AddStandardHedgingHandler().Configure(o => o.Hedging.Delay = p95)),
                    (TailReport.MeshHedging, static b => b.AddMeshHedging()),
                    (TailReport.MeshHedgingSystemTimer, static b => b.AddMeshHedging()),
                    (TailReport.MeshHedgingFloor5Ms, static b => b.AddMeshHedging()),
                };
                foreach (var (name, outer) in configs)
                {
                    var slow = await MeasureAsync(name, outer, endpoints, settings);
                    results.Add(Print(new TailResult(name, "one replica +50 ms on 10%", slow.Run, slow.Attempts, slow.SlowShare, round), round, settings));
                }
            }
        }
        finally
        {
            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }
        }

        return new TailNetworkRun(results, fixedDelays, timerP50, timerP99);
    }

    /// <summary>
    /// Why a configuration's p99 is what it is (console only, nothing written): with the replica +50 ms on 10%, each
    /// request of a run is classified by who answered it — the slow replica or another one — and whether the answer
    /// came from a hedge (the hedging handler's copy of the request, not the request sent), and the slowest 2% are
    /// broken down by class. <c>dotnet run -c Release --project bench/Mesh.LoadBench -- tail-network-explain</c>.
    /// </summary>
    public static async Task ExplainAsync(BenchSettings settings)
    {
        var replicas = new List<ReplicaProcess>();
        using var control = new HttpClient();
        try
        {
            await StartReplicasAsync(replicas, control);

            var endpoints = replicas.Select(r => r.Address).ToList();
            for (var round = 0; round < settings.Rounds; round++)
            {
                foreach (var (name, outer, bad) in new (string, Action<IHttpClientBuilder>?, bool)[]
                {
                    (TailReport.NoHedging, null, false), (TailReport.MeshHedging, static b => b.AddMeshHedging(), false),
                    (TailReport.NoHedging, null, true), (TailReport.MeshHedging, static b => b.AddMeshHedging(), true),
                })
                {
                    await replicas[4].ControlAsync(control, "reset", "");
                    if (bad)
                    {
                        await replicas[4].ControlAsync(control, "latency", "50");
                        await replicas[4].ControlAsync(control, "latency-rate", "0.1");
                    }

                    await using var client = Clients.Mesh(name, LoadBalancerKind.PeakEwma, endpoints, outer);
                    await LoadRunner.RunAsync(name, client.Client, Concurrency, settings.Warmup);
                    var samples = await ClassifiedRunAsync(client.Client, settings.Duration);
                    Console.WriteLine(Explain($"round {round + 1} {(bad ? "n4 +50 ms on 10%" : "all healthy"),-17} {name}", samples));
                }
            }
        }
        finally
        {
            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }
        }
    }

    /// <summary>Starts the five replica processes, n0 to n4, each answering after the network-like delay.</summary>
    private static async Task StartReplicasAsync(List<ReplicaProcess> replicas, HttpClient control)
    {
        for (var i = 0; i < 5; i++)
        {
            replicas.Add(await ReplicaProcess.StartAsync($"n{i}"));
            await replicas[i].ControlAsync(control, "network-latency", BaseMs.ToString(CultureInfo.InvariantCulture));
            await replicas[i].ControlAsync(control, "network-jitter", JitterMeanMs.ToString(CultureInfo.InvariantCulture));
        }
    }

    private readonly record struct Sample(double Us, bool Slow, bool Hedge);

    private static async Task<List<Sample>> ClassifiedRunAsync(HttpClient client, TimeSpan duration)
    {
        var samples = new System.Collections.Concurrent.ConcurrentBag<Sample>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 10_000_000 && clock.Elapsed < duration; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/items");
                var start = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
                var us = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                var replica = response.Headers.TryGetValues(Mesh.Testing.InProcessReplica.ReplicaHeader, out var ids) ? ids.FirstOrDefault() : null;
                samples.Add(new Sample(us, replica == "n4", !ReferenceEquals(response.RequestMessage, request)));
            }
        })));
        return [.. samples];
    }

    private static string Explain(string title, List<Sample> samples)
    {
        var sorted = samples.OrderBy(s => s.Us).ToList();
        double At(double p) => sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * p / 100))].Us;
        var top = sorted.Skip((int)(sorted.Count * 0.98)).ToList();
        string Class(Func<Sample, bool> f, string label)
        {
            var of = top.Where(f).Select(s => s.Us).Order().ToList();
            return of.Count == 0 ? $"{label} 0" : string.Create(CultureInfo.InvariantCulture, $"{label} {of.Count} (min {of[0] / 1000:F1}, median {of[of.Count / 2] / 1000:F1} ms)");
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"  {title,-60} n {sorted.Count}  p95 {At(95) / 1000:F2}  p98 {At(98) / 1000:F2}  p99 {At(99) / 1000:F2}  p99.9 {At(99.9) / 1000:F2} ms; answered by a hedge {samples.Count(s => s.Hedge) * 100.0 / samples.Count:F2}%, by n4 {samples.Count(s => s.Slow) * 100.0 / samples.Count:F2}%\n")
            + $"      slowest 2%: {Class(s => !s.Hedge && !s.Slow, "original, healthy replica:")}; {Class(s => !s.Hedge && s.Slow, "original, n4:")}; {Class(s => s.Hedge, "hedge:")}";
    }

    private static async Task<(RunResult Run, long Attempts, double SlowShare)> MeasureAsync(string name, Action<IHttpClientBuilder>? outer, List<Uri> endpoints, BenchSettings settings)
    {
        await using var client = Clients.Mesh(name, LoadBalancerKind.PeakEwma, endpoints, outer, configure: TailReport.Configure(name));
        using var attempts = new AttemptCounter(((IServiceProvider)client.Owner!).GetRequiredService<IMeterFactory>());
        using var timer = TailReport.SystemTimerFor(name);
        var warmup = await LoadRunner.RunAsync(name, client.Client, Concurrency, settings.Warmup); // latencies measured for the delay
        if (warmup.Failed > 0)
        {
            Console.WriteLine($"  tail-network warm-up of {name}: {warmup.Failed} failed ({TailReport.Failures(warmup.Failures)})");
        }

        attempts.Reset();
        var before = TailReport.AttemptsPerEndpoint(client, endpoints);
        var run = await LoadRunner.RunAsync(name, client.Client, Concurrency, settings.Duration);
        return (run, attempts.Count, TailReport.LastShare(before, TailReport.AttemptsPerEndpoint(client, endpoints)));
    }

    private static TailResult Print(TailResult result, int round, BenchSettings settings)
    {
        var run = result.Run;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  tail-network round {round + 1}/{settings.Rounds} {result.Scenario,-26} {result.Config,-48} p50 {run.P50Us,6:F0} µs  p95 {run.P95Us,6:F0} µs  p99 {run.P99Us,7:F0} µs  p99.9 {run.P999Us,7:F0} µs  extra {result.Extra:P1}  slow replica's share {result.SlowShare:P1}  failed {run.Failed}{(run.Failed > 0 ? $" ({TailReport.Failures(run.Failures)})" : "")}"));
        return result;
    }

    /// <summary>How late .NET timers fire here (the hedging handler waits its delay on one): 200 waits of 1 ms through
    /// <see cref="TimeProvider.System"/>, as Polly does, each started after a random 0–5 ms pause (a hedge's timer starts
    /// whenever its request does, not just after another timer fired). On Linux they follow CLOCK_MONOTONIC_COARSE (the
    /// kernel tick).</summary>
    private static async Task<(double P50, double P99)> ProbeTimerAsync()
    {
        var waits = new double[200];
        for (var i = 0; i < waits.Length; i++)
        {
            NetworkLatency.SleepUntil(Stopwatch.GetTimestamp() + (long)(Random.Shared.NextDouble() * 0.005 * Stopwatch.Frequency));
            var start = Stopwatch.GetTimestamp();
            await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
            waits[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(waits);
        return (waits[waits.Length / 2], waits[(int)(waits.Length * 0.99)]);
    }

    public static string Markdown(TailNetworkRun run) =>
        TailReport.Table(string.Create(CultureInfo.InvariantCulture,
            $"### Tail with network-like latency: 5 replicas answering after {BaseMs} ms + exponential jitter (mean {JitterMeanMs} ms), one adds +50 ms to 10% of its answers; concurrency {Concurrency}, PeakEwma"), run.Results, p95: true)
        + string.Create(CultureInfo.InvariantCulture,
            $"Fixed delay of \"{FixedP95}\" per round (the round's all-healthy p95 as the client measured it, rounded up to 0.1 ms): {string.Join(", ", run.FixedDelaysMs.Select(d => d.ToString("F1", CultureInfo.InvariantCulture)))} ms. A 1 ms .NET timer (the hedging handler waits its delay on one) fired after p50 {run.TimerP50Ms:F2} ms, p99 {run.TimerP99Ms:F2} ms in the client process.\n");

    /// <summary>Writes the report, an SVG and the README section of this scenario.</summary>
    public static List<string> Write(TailNetworkRun run, string machine, string command, BenchSettings settings, string resultsDirectory, string readme) =>
        TailReport.Write("tail-network", "Load bench: tail-network (hedging with network-like latency)", "Tail latency with network-like latency, with and without hedging (medians, µs)", run.Results,
            string.Create(CultureInfo.InvariantCulture, $"Machine: {machine}. Command: `{command}`. {settings.Rounds} interleaved rounds of {settings.Duration.TotalSeconds:F1} s per configuration after a {settings.Warmup.TotalSeconds:F1} s warm-up (which measures the latencies the mesh-aware delay uses); medians of the rounds; replicas are separate processes on loopback, each answer delayed {BaseMs} ms plus an exponential jitter of mean {JitterMeanMs} ms (slept with nanosleep in the replica).\n\n") + Markdown(run),
            resultsDirectory, readme);
}
