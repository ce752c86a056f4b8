using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.LoadBench;

/// <summary>The tail-network run: per configuration and round, and what it measured besides.</summary>
/// <param name="Results">One entry per configuration, scenario and round.</param>
/// <param name="FixedDelaysMs">The fixed hedging delay at the end of each round (the round's all-healthy p95), ms.</param>
/// <param name="TimerP50Ms">How long a 1 ms .NET timer took in the client process, median, ms.</param>
/// <param name="TimerP99Ms">The same, 99th percentile, ms.</param>
/// <param name="Pooled">Per configuration and scenario, every slice of the run together.</param>
internal sealed record TailNetworkRun(List<TailResult> Results, List<double> FixedDelaysMs, double TimerP50Ms, double TimerP99Ms, List<TailResult> Pooled);

/// <summary>
/// The tail scenario with network-like latency (issue 21): every replica answers after a base delay of
/// <see cref="BaseMs"/> plus an exponentially distributed jitter of mean <see cref="JitterMeanMs"/> (a network round trip
/// and a service time; <see cref="NetworkLatency"/>), and one of the five adds +50 ms to 10% of its answers. No hedging,
/// the standard hedging handler with its defaults and with a fixed delay equal to the all-healthy p95, and mesh-aware
/// hedging (AddMeshHedging) with its defaults, with the .NET timer and with <c>Hedging:MinDelay</c> 5 ms, and the
/// mesh's own hedging (<c>Hedging:Enabled</c>, no hedging handler). Every
/// configuration keeps one client for the whole run and runs in slices of <see cref="SliceLength"/> in turn (rounds
/// of <see cref="CyclesPerGroup"/> turns each), so that the shared host's noise falls on all of them alike; p50, p95,
/// p99, p99.9 and the extra requests sent, per round and pooled.
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
        var configs = new List<SlicedConfig>();
        var fixedDelay = new FixedDelay();
        SlicedConfig? baseline = null;
        double timerP50 = double.NaN, timerP99 = double.NaN;
        using var control = new HttpClient();
        try
        {
            await StartReplicasAsync(replicas, control);

            (timerP50, timerP99) = await ProbeTimerAsync();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  a 1 ms timer fires after p50 {timerP50:F2} ms, p99 {timerP99:F2} ms"));
            var endpoints = replicas.Select(r => r.Address).ToList();
            var groups = settings.Rounds;
            var healthy = new[] { (TailReport.NoHedging, (Action<IHttpClientBuilder>?)null), (TailReport.MeshHedging, static b => b.AddMeshHedging()), (TailReport.MeshOwnHedging, null) };

            // Every client is made and warmed up once (the warm-up measures the latencies the mesh-aware delay uses),
            // the all-healthy ones with the fleet healthy; the all-healthy baseline's warm-up also gives the fixed delay
            // "The Tail at Scale" recommends, the 95th percentile.
            await SetSlowAsync(replicas[4], control, slow: false);
            foreach (var (name, outer) in healthy)
            {
                var config = await SlicedConfig.StartAsync(name, TailReport.AllHealthy, outer, endpoints, settings, groups);
                configs.Add(config);
                if (name == TailReport.NoHedging)
                {
                    // Until the first round has measured it: a run after the warm-up (whose own p95 includes the
                    // client's and the replicas' first requests).
                    fixedDelay.Set(await config.MeasureP95Async(settings.Warmup));
                    baseline = config;
                }
            }

            await SetSlowAsync(replicas[4], control, slow: true);
            foreach (var (name, outer) in new (string Name, Action<IHttpClientBuilder>? Outer)[]
            {
                (TailReport.NoHedging, null),
                ("standard hedging (defaults)", static b => b.AddStandardHedgingHandler()),
                (FixedP95, b => b.AddStandardHedgingHandler().Configure(o => o.Hedging.DelayGenerator = _ => new ValueTask<TimeSpan>(fixedDelay.Delay))),
                (TailReport.MeshHedging, static b => b.AddMeshHedging()),
                (TailReport.MeshHedgingSystemTimer, static b => b.AddMeshHedging()),
                (TailReport.MeshHedgingFloor5Ms, static b => b.AddMeshHedging()),
                (TailReport.MeshOwnHedging, null),
            })
            {
                configs.Add(await SlicedConfig.StartAsync(name, SlowScenario, outer, endpoints, settings, groups));
            }

            // Then slices of SliceLength in turn, the order rotating from cycle to cycle, so that a burst of noise on the
            // shared host falls on every configuration alike rather than on one round of one configuration.
            var healthyConfigs = configs.Where(c => c.Scenario == TailReport.AllHealthy).ToList();
            var slowConfigs = configs.Where(c => c.Scenario == SlowScenario).ToList();
            var cycles = settings.Duration >= TimeSpan.FromSeconds(2) ? CyclesPerGroup : 1;
            var slice = settings.Duration >= TimeSpan.FromSeconds(2) ? SliceLength : SliceLength / 2;
            for (var group = 0; group < groups; group++)
            {
                for (var cycle = 0; cycle < cycles; cycle++)
                {
                    var turn = (group * cycles) + cycle;
                    await SetSlowAsync(replicas[4], control, slow: false);
                    foreach (var config in Rotate(healthyConfigs, turn))
                    {
                        await config.RunSliceAsync(group, endpoints, slice);
                    }

                    fixedDelay.Set(baseline!.P95Us(group)); // the all-healthy p95 of this round so far
                    await SetSlowAsync(replicas[4], control, slow: true);
                    foreach (var config in Rotate(slowConfigs, turn))
                    {
                        await config.RunSliceAsync(group, endpoints, slice);
                    }
                }

                fixedDelays.Add(fixedDelay.Delay.TotalMilliseconds);
                foreach (var config in configs)
                {
                    config.Settle(endpoints); // attempts of the last slice of this group that ended after it (drained hedge losers)
                }
            }

            await Task.Delay(DrainableLimit);
            foreach (var config in configs)
            {
                config.Settle(endpoints);
                for (var group = 0; group < groups; group++)
                {
                    results.Add(Print(config.Result(group), group, settings));
                }
            }
        }
        finally
        {
            foreach (var config in configs)
            {
                await config.DisposeAsync();
            }

            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }
        }

        var pooled = configs.Select(c => c.Pooled()).ToList();
        return new TailNetworkRun(results, fixedDelays, timerP50, timerP99, pooled);
    }

    private const string SlowScenario = "one replica +50 ms on 10%";

    /// <summary>The delay of the fixed-delay configuration: the all-healthy p95, rounded up to 0.1 ms, updated as the
    /// run measures it (read by the hedging handler's delay generator on each request).</summary>
    private sealed class FixedDelay
    {
        private long _ticks = TimeSpan.FromSeconds(2).Ticks;

        public TimeSpan Delay => new(Interlocked.Read(ref _ticks));

        public void Set(double p95Us)
        {
            if (!double.IsNaN(p95Us))
            {
                Interlocked.Exchange(ref _ticks, TimeSpan.FromMicroseconds(Math.Ceiling(p95Us / 100) * 100).Ticks);
            }
        }
    }

    /// <summary>How long each configuration runs at a time before the next one takes over.</summary>
    public static readonly TimeSpan SliceLength = TimeSpan.FromSeconds(1);

    /// <summary>Turns of every configuration per group ("round" in the table).</summary>
    public const int CyclesPerGroup = 4;

    // Longer than the mesh lets the loser of a hedge finish (1 s), so that every attempt is counted.
    private static readonly TimeSpan DrainableLimit = TimeSpan.FromSeconds(1.5);

    private static IEnumerable<T> Rotate<T>(List<T> items, int turn) => items.Skip(turn % items.Count).Concat(items.Take(turn % items.Count));

    private static async Task SetSlowAsync(ReplicaProcess replica, HttpClient control, bool slow)
    {
        await replica.ControlAsync(control, "reset", "");
        if (slow)
        {
            await replica.ControlAsync(control, "latency", "50");
            await replica.ControlAsync(control, "latency-rate", "0.1");
        }
    }

    /// <summary>One configuration of the sliced run: its client (warmed up once, kept for the whole run) and what its
    /// slices measured, per group.</summary>
    private sealed class SlicedConfig : IAsyncDisposable
    {
        private readonly ClientUnderTest _client;
        private readonly AttemptCounter _attempts;
        private readonly LoadTally[] _tallies;
        private readonly long[] _attemptsPerGroup;
        private readonly long[]?[] _sentPerGroup;
        private long _lastCount;
        private long[] _lastSent = [];
        private int _lastGroup = -1;

        private SlicedConfig(string name, string scenario, ClientUnderTest client, int groups)
        {
            Name = name;
            Scenario = scenario;
            _client = client;
            _attempts = new AttemptCounter(((IServiceProvider)client.Owner!).GetRequiredService<IMeterFactory>());
            _tallies = [.. Enumerable.Range(0, groups).Select(_ => new LoadTally(name, Concurrency))];
            _attemptsPerGroup = new long[groups];
            _sentPerGroup = new long[groups][];
        }

        public string Name { get; }

        public string Scenario { get; }

        public static async Task<SlicedConfig> StartAsync(string name, string scenario, Action<IHttpClientBuilder>? outer, List<Uri> endpoints, BenchSettings settings, int groups)
        {
            var client = Clients.Mesh(name, LoadBalancerKind.PeakEwma, endpoints, outer, configure: TailReport.Configure(name));
            var config = new SlicedConfig(name, scenario, client, groups);
            using (TailReport.SystemTimerFor(name))
            {
                var warmup = await LoadRunner.RunAsync(name, client.Client, Concurrency, settings.Warmup);
                if (warmup.Failed > 0)
                {
                    Console.WriteLine($"  tail-network warm-up of {name} ({scenario}): {warmup.Failed} failed ({TailReport.Failures(warmup.Failures)})");
                }
            }

            return config;
        }

        /// <summary>The p95 of the slices of <paramref name="group"/> so far.</summary>
        public double P95Us(int group) => _tallies[group].ToResult().P95Us;

        /// <summary>The p95 of a run of <paramref name="duration"/>, not counted in the results.</summary>
        public async Task<double> MeasureP95Async(TimeSpan duration) => (await LoadRunner.RunAsync(Name, _client.Client, Concurrency, duration)).P95Us;

        public async Task RunSliceAsync(int group, List<Uri> endpoints, TimeSpan slice)
        {
            Settle(endpoints);
            _lastGroup = group;
            using (TailReport.SystemTimerFor(Name))
            {
                await LoadRunner.RunAsync(_tallies[group], _client.Client, Concurrency, slice);
            }
        }

        /// <summary>Charges the attempts counted since the last reading to the group of the last slice.</summary>
        public void Settle(List<Uri> endpoints)
        {
            var count = _attempts.Count;
            var sent = TailReport.AttemptsPerEndpoint(_client, endpoints);
            if (_lastGroup >= 0)
            {
                _attemptsPerGroup[_lastGroup] += count - _lastCount;
                var total = _sentPerGroup[_lastGroup] ??= new long[sent.Length];
                for (var i = 0; i < sent.Length; i++)
                {
                    total[i] += sent[i] - _lastSent[i];
                }
            }

            _lastCount = count;
            _lastSent = sent;
        }

        public TailResult Result(int group)
        {
            var sent = _sentPerGroup[group] ?? [];
            var share = sent.Sum() == 0 ? double.NaN : (double)sent[^1] / sent.Sum();
            return new TailResult(Name, Scenario, _tallies[group].ToResult(), _attemptsPerGroup[group], share, group);
        }

        /// <summary>Every slice of the run together.</summary>
        public TailResult Pooled()
        {
            var all = new LoadTally(Name, Concurrency);
            foreach (var tally in _tallies)
            {
                tally.AddTo(all);
            }

            var sent = _sentPerGroup.Where(s => s is not null).SelectMany(s => s!.Select((n, i) => (n, i))).GroupBy(x => x.i).OrderBy(g => g.Key).Select(g => g.Sum(x => x.n)).ToArray();
            var share = sent.Sum() == 0 ? double.NaN : (double)sent[^1] / sent.Sum();
            return new TailResult(Name, Scenario, all.ToResult(), _attemptsPerGroup.Sum(), share);
        }

        public async ValueTask DisposeAsync()
        {
            _attempts.Dispose();
            await _client.DisposeAsync();
        }
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
            $"Fixed delay of \"{FixedP95}\" (the all-healthy p95 of the round so far, rounded up to 0.1 ms, set before each turn of the configurations with the slow replica; at the end of each round): {string.Join(", ", run.FixedDelaysMs.Select(d => d.ToString("F1", CultureInfo.InvariantCulture)))} ms. A 1 ms .NET timer (the hedging handler waits its delay on one) fired after p50 {run.TimerP50Ms:F2} ms, p99 {run.TimerP99Ms:F2} ms in the client process.\n\n")
        + PooledTable(run.Pooled);

    /// <summary>Every slice of each configuration together, each p99 against the pooled all-healthy p99.</summary>
    private static string PooledTable(List<TailResult> pooled)
    {
        static string F(double value, string format = "F0") => value.ToString(format, CultureInfo.InvariantCulture);
        var baseline = pooled.FirstOrDefault(r => r.Scenario == TailReport.AllHealthy && r.Config == TailReport.NoHedging)?.Run.P99Us ?? double.NaN;
        var md = new System.Text.StringBuilder();
        md.AppendLine("All rounds pooled (every request of a configuration in one histogram):");
        md.AppendLine();
        md.AppendLine("| configuration | scenario | requests | p50 µs | p95 µs | p99 µs | p99.9 µs | p99 ÷ all-healthy p99 | extra requests | slow replica's share of attempts | failed |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in pooled)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Config} | {r.Scenario} | {r.Run.Ok + r.Run.Failed} | {F(r.Run.P50Us)} | {F(r.Run.P95Us)} | {F(r.Run.P99Us)} | {F(r.Run.P999Us)} | {F(r.Run.P99Us / baseline, "F2")} | {r.Extra.ToString("P1", CultureInfo.InvariantCulture)} | {r.SlowShare.ToString("P1", CultureInfo.InvariantCulture)} | {r.Run.Failed} |");
        }

        return md.ToString();
    }


    /// <summary>Writes the report, an SVG and the README section of this scenario.</summary>
    public static List<string> Write(TailNetworkRun run, string machine, string command, BenchSettings settings, string resultsDirectory, string readme) =>
        TailReport.Write("tail-network", "Load bench: tail-network (hedging with network-like latency)", "Tail latency with network-like latency, with and without hedging (medians, µs)", run.Results,
            string.Create(CultureInfo.InvariantCulture, $"Machine: {machine}. Command: `{command}`. one client per configuration for the whole run, warmed up for {settings.Warmup.TotalSeconds:F1} s (which measures the latencies the mesh-aware delay uses), then {SliceLength.TotalSeconds:F1} s slices of each configuration in turn (order rotating), {CyclesPerGroup} turns per round, {settings.Rounds} rounds; the table gives medians of the rounds, ratios within each round; replicas are separate processes on loopback, each answer delayed {BaseMs} ms plus an exponential jitter of mean {JitterMeanMs} ms (slept with nanosleep in the replica).\n\n") + Markdown(run),
            resultsDirectory, readme);
}
