using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.LoadBench;

/// <summary>One configuration of the tail scenario: its latencies and how many attempts it sent per request.</summary>
internal sealed record TailResult(string Config, string Scenario, RunResult Run, long Attempts, double SlowShare = double.NaN, int Round = 0)
{
    /// <summary>Extra attempts per request (0.05 = 5% more requests reached the replicas).</summary>
    public double Extra => Run.Ok + Run.Failed == 0 ? 0 : ((double)Attempts / (Run.Ok + Run.Failed)) - 1;
}

/// <summary>
/// Hedging against a slow tail ("The Tail at Scale"): five replicas, one of which adds +50 ms to 10% of its answers;
/// no hedging, the standard hedging handler with its defaults and with a fixed 1 ms delay, and mesh-aware hedging
/// (AddMeshHedging) with its defaults and with <c>Hedging:MinDelay</c> 5 ms, and the mesh's own hedging
/// (<c>Hedging:Enabled</c>, no hedging handler), in interleaved rounds; p50, p99, p99.9 and
/// the extra requests sent (attempts counted by the mesh's own request metric). The replicas answer at once (sub-ms on
/// loopback); <see cref="TailNetworkScenario"/> is the same with network-like latency.
/// </summary>
internal static class TailScenario
{
    private const int Concurrency = 8;

    public static async Task<List<TailResult>> RunAsync(BenchSettings settings)
    {
        var replicas = new List<ReplicaProcess>();
        for (var i = 0; i < 5; i++)
        {
            replicas.Add(await ReplicaProcess.StartAsync($"t{i}"));
        }

        var endpoints = replicas.Select(r => r.Address).ToList();
        using var control = new HttpClient();
        var configs = new (string Name, Action<IHttpClientBuilder>? Outer)[]
        {
            (TailReport.NoHedging, null),
            ("standard hedging (defaults)", static b => b.AddStandardHedgingHandler()),
            // The same pipeline with the mesh-aware delay's floor as a fixed delay: what hedging at 1 ms costs by itself.
            ("standard hedging, fixed 1 ms delay", static b => b.AddStandardHedgingHandler().Configure(o => o.Hedging.Delay = TimeSpan.FromMilliseconds(1))),
            (TailReport.MeshHedging, static b => b.AddMeshHedging()),
            // The same with the delay left to the hedging handler's .NET timer (the kernel's tick) instead of the mesh's precise one.
            (TailReport.MeshHedgingSystemTimer, static b => b.AddMeshHedging()),
            // A floor above these sub-millisecond answers' tail: hedges only what is really slow (issue 21, the MinDelay default).
            (TailReport.MeshHedgingFloor5Ms, static b => b.AddMeshHedging()),
            // The mesh's own hedging: no hedging handler, the mesh handler sends the copy itself (Hedging:Enabled).
            (TailReport.MeshOwnHedging, null),
        };
        var results = new List<TailResult>();
        try
        {
            for (var round = 0; round < settings.Rounds; round++)
            {
                foreach (var (scenario, slow) in new[] { ("all healthy", false), ("one replica +50 ms on 10%", true) })
                {
                    await replicas[4].ControlAsync(control, "reset", "");
                    if (slow)
                    {
                        await replicas[4].ControlAsync(control, "latency", "50");
                        await replicas[4].ControlAsync(control, "latency-rate", "0.1");
                    }

                    // All healthy: without hedging (the baseline) and with both kinds of mesh-aware hedging (what hedging
                    // costs by itself on a host whose two cores run the client and five replicas).
                    foreach (var (name, outer) in slow ? configs : [configs[0], configs[3], configs[6]])
                    {
                        await using var client = Clients.Mesh(name, LoadBalancerKind.PeakEwma, endpoints, outer, configure: TailReport.Configure(name));
                        using var attempts = new AttemptCounter(((IServiceProvider)client.Owner!).GetRequiredService<IMeterFactory>());
                        using var timer = TailReport.SystemTimerFor(name);
                        await LoadRunner.RunAsync(name, client.Client, Concurrency, settings.Warmup); // latencies measured for the delay
                        attempts.Reset();
                        var before = TailReport.AttemptsPerEndpoint(client, endpoints);
                        var run = await LoadRunner.RunAsync(name, client.Client, Concurrency, settings.Duration);
                        var result = new TailResult(name, scenario, run, attempts.Count, TailReport.LastShare(before, TailReport.AttemptsPerEndpoint(client, endpoints)), round);
                        results.Add(result);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  tail round {round + 1}/{settings.Rounds} {scenario,-26} {name,-36} {run.RequestsPerSecond,7:F0} req/s  p50 {run.P50Us,6:F0} µs  p99 {run.P99Us,7:F0} µs  p99.9 {run.P999Us,7:F0} µs  extra {result.Extra:P1}  slow replica's share {result.SlowShare:P1}  failed {run.Failed}"));
                    }
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

        return results;
    }

    public static string Markdown(List<TailResult> results) =>
        TailReport.Table($"### Tail: 5 replicas, one adds +50 ms to 10% of its answers; concurrency {Concurrency}, PeakEwma", results, p95: false);

    /// <summary>Writes the report, an SVG and the README section of this scenario.</summary>
    public static List<string> Write(List<TailResult> results, string machine, string command, BenchSettings settings, string resultsDirectory, string readme) =>
        TailReport.Write("tail", "Load bench: tail (hedging)", "Tail latency with and without hedging (medians, µs)", results,
            $"Machine: {machine}. Command: `{command}`. {settings.Rounds} interleaved rounds of {settings.Duration.TotalSeconds:F1} s per configuration after a {settings.Warmup.TotalSeconds:F1} s warm-up (which measures the latencies the mesh-aware delay uses); medians of the rounds; replicas are separate processes on loopback.\n\n" + Markdown(results),
            resultsDirectory, readme);
}

/// <summary>Attempts that reached an endpoint, from the mesh's <c>mesh.client.requests</c> metric of one client.</summary>
internal sealed class AttemptCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _count;

    public AttemptCounter(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == "mesh.client.requests")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
        _listener.Start();
    }

    public long Count => Interlocked.Read(ref _count);

    public void Reset() => Interlocked.Exchange(ref _count, 0);

    public void Dispose() => _listener.Dispose();
}

/// <summary>What the tail scenarios share: configurations, the table, the report files and their README section.</summary>
internal static class TailReport
{
    /// <summary>The scenario without the slow replica.</summary>
    public const string AllHealthy = "all healthy";

    /// <summary>The configuration without hedging (the all-healthy baseline of every row).</summary>
    public const string NoHedging = "no hedging";

    /// <summary>Mesh-aware hedging with its defaults.</summary>
    public const string MeshHedging = "mesh-aware hedging (AddMeshHedging)";

    /// <summary>The mesh's own hedging (<c>Hedging:Enabled</c>, no hedging handler) with its defaults.</summary>
    public const string MeshOwnHedging = "mesh hedging (Hedging:Enabled)";

    /// <summary>Mesh-aware hedging with <c>Hedging:MinDelay</c> raised from 1 ms to 5 ms (what a higher default would do).</summary>
    public const string MeshHedgingFloor5Ms = "mesh-aware hedging, Hedging:MinDelay 5 ms";

    /// <summary>Mesh-aware hedging with the delay left to the hedging handler's .NET timer (the AppContext switch
    /// <c>Mesh.Hedging.UseSystemTimer</c>) instead of the mesh's precise timer.</summary>
    public const string MeshHedgingSystemTimer = "mesh-aware hedging, .NET timer";

    /// <summary>Attempts the mesh sent so far to each endpoint (<see cref="MeshMonitor"/>), in the order of <paramref name="endpoints"/>.</summary>
    public static long[] AttemptsPerEndpoint(ClientUnderTest client, IReadOnlyList<Uri> endpoints)
    {
        var all = ((IServiceProvider)client.Owner!).GetRequiredService<MeshMonitor>().GetSnapshot().SelectMany(s => s.Endpoints).ToList();
        return [.. endpoints.Select(u => all.FirstOrDefault(e => e.Endpoint.Address.Port == u.Port)?.Requests ?? 0)];
    }

    /// <summary>The last endpoint's share (the slow replica's) of the attempts sent between two <see cref="AttemptsPerEndpoint"/> readings.</summary>
    public static double LastShare(long[] before, long[] after)
    {
        var sent = after.Select((n, i) => n - before[i]).ToArray();
        return sent.Sum() == 0 ? double.NaN : (double)sent[^1] / sent.Sum();
    }

    /// <summary>Sets the <c>Mesh.Hedging.UseSystemTimer</c> switch for the configuration that asks for it, until disposed.</summary>
    public static IDisposable? SystemTimerFor(string config)
    {
        if (config != MeshHedgingSystemTimer)
        {
            return null;
        }

        AppContext.SetSwitch("Mesh.Hedging.UseSystemTimer", true);
        return new SwitchReset();
    }

    private sealed class SwitchReset : IDisposable
    {
        public void Dispose() => AppContext.SetSwitch("Mesh.Hedging.UseSystemTimer", false);
    }

    /// <summary>The service options a configuration needs beyond the bench's defaults, by its name.</summary>
    public static Action<MeshServiceOptions>? Configure(string config) => config switch
    {
        MeshHedgingFloor5Ms => static o => o.Hedging.MinDelay = TimeSpan.FromMilliseconds(5),
        MeshOwnHedging => static o => o.Hedging.Enabled = true,
        _ => null,
    };

    /// <summary>Failures by what failed them, most frequent first: <c>BrokenCircuitException ×120, HTTP 500 ×3</c>.</summary>
    public static string Failures(IEnumerable<KeyValuePair<string, long>> failures) =>
        string.Join(", ", failures.GroupBy(f => f.Key).Select(g => (g.Key, Count: g.Sum(f => f.Value))).OrderByDescending(f => f.Count)
            .Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Key} ×{f.Count}")));

    /// <summary>Medians of the rounds per scenario and configuration, and each p99 against the all-healthy p99s of the same rounds.</summary>
    public static string Table(string heading, List<TailResult> results, bool p95)
    {
        static string F(double value, string format = "F0") => value.ToString(format, CultureInfo.InvariantCulture);
        // Ratios are taken within each round (against that round's all-healthy p99) and then the median of the rounds:
        // a burst of noise on the shared host then moves one round's ratio, not every ratio through the baseline.
        double RatioTo(IEnumerable<TailResult> rows, string config) => LoadRunner.Median(rows
            .Select(r => (r, Base: results.FirstOrDefault(b => b.Scenario == AllHealthy && b.Config == config && b.Round == r.Round)))
            .Where(x => x.Base is not null)
            .Select(x => x.r.Run.P99Us / x.Base!.Run.P99Us));
        var md = new StringBuilder();
        md.AppendLine(heading);
        md.AppendLine();
        md.AppendLine(p95
            ? "| configuration | scenario | req/s | p50 µs | p95 µs | p99 µs | p99.9 µs | p99 ÷ all-healthy p99 (same round) | p99 ÷ the same configuration's all-healthy p99 (same round) | extra requests | slow replica's share of attempts | failed |"
            : "| configuration | scenario | req/s | p50 µs | p99 µs | p99.9 µs | p99 ÷ all-healthy p99 (same round) | p99 ÷ the same configuration's all-healthy p99 (same round) | extra requests | slow replica's share of attempts | failed |");
        md.AppendLine(p95 ? "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" : "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var group in results.GroupBy(r => (r.Scenario, r.Config)))
        {
            var p99 = LoadRunner.Median(group.Select(r => r.Run.P99Us));
            var p95Cell = p95 ? $" {F(LoadRunner.Median(group.Select(r => r.Run.P95Us)))} |" : "";
            var ownCell = results.Any(r => r.Scenario == AllHealthy && r.Config == group.Key.Config) ? F(RatioTo(group, group.Key.Config), "F2") : "–";
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Config} | {group.Key.Scenario} | {F(LoadRunner.Median(group.Select(r => r.Run.RequestsPerSecond)))} | {F(LoadRunner.Median(group.Select(r => r.Run.P50Us)))} |{p95Cell} {F(p99)} | {F(LoadRunner.Median(group.Select(r => r.Run.P999Us)))} | {F(RatioTo(group, NoHedging), "F2")} | {ownCell} | {LoadRunner.Median(group.Select(r => r.Extra)).ToString("P1", CultureInfo.InvariantCulture)} | {LoadRunner.Median(group.Select(r => r.SlowShare)).ToString("P1", CultureInfo.InvariantCulture)} | {group.Sum(r => r.Run.Failed)} |");
        }

        md.AppendLine();
        foreach (var group in results.GroupBy(r => (r.Scenario, r.Config)).Where(g => g.Any(r => r.Run.Failed > 0)))
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"Failed, {group.Key.Config} ({group.Key.Scenario}): in {group.Count(r => r.Run.Failed > 0)} of {group.Count()} rounds, {group.Count(r => r.Run.Ok == 0)} of which answered nothing (latency medians are of the rounds that answered); by cause: {Failures(group.SelectMany(r => r.Run.Failures))}.");
            md.AppendLine();
        }

        return md.ToString();
    }

    /// <summary>Writes <c>{stamp}-{name}.md</c> and <c>.svg</c> and replaces the README section between
    /// <c>&lt;!-- load-bench:{name}:begin --&gt;</c> and <c>...:end --&gt;</c> (appended under <paramref name="heading"/> when absent).</summary>
    public static List<string> Write(string name, string heading, string chartTitle, List<TailResult> results, string markdown, string resultsDirectory, string readme)
    {
        Directory.CreateDirectory(resultsDirectory);
        var stamp = DateTime.UtcNow.ToString("yyyy-MM-dd-HHmm", CultureInfo.InvariantCulture);
        var svg = Path.Combine(resultsDirectory, $"{stamp}-{name}.svg");
        var rows = results.GroupBy(r => $"{r.Config} — {r.Scenario}").ToList();
        ScottPlotChart.Bars(chartTitle, [.. rows.Select(g => g.Key)],
        [
            ("p50", [.. rows.Select(g => LoadRunner.Median(g.Select(r => r.Run.P50Us)))]),
            ("p99", [.. rows.Select(g => LoadRunner.Median(g.Select(r => r.Run.P99Us)))]),
            ("p99.9", [.. rows.Select(g => LoadRunner.Median(g.Select(r => r.Run.P999Us)))]),
        ], svg);
        var file = Path.Combine(resultsDirectory, $"{stamp}-{name}.md");
        File.WriteAllText(file, $"# Load bench {stamp}: {name}\n\n{markdown}\n![{name}]({Path.GetFileName(svg)})\n");
        var begin = $"<!-- load-bench:{name}:begin -->";
        var end = $"<!-- load-bench:{name}:end -->";
        var section = $"{begin}\n_Latest run: {stamp} UTC ([report](results/{Path.GetFileName(file)}))_\n\n{markdown}\n![{name}](results/{Path.GetFileName(svg)})\n{end}";
        var text = File.Exists(readme) ? File.ReadAllText(readme) : "# Benchmarks\n\n";
        var at = text.IndexOf(begin, StringComparison.Ordinal);
        var to = text.IndexOf(end, StringComparison.Ordinal);
        text = at >= 0 && to > at ? text[..at] + section + text[(to + end.Length)..] : text.TrimEnd() + $"\n\n## {heading}\n\n" + section + "\n";
        File.WriteAllText(readme, text);
        return [svg, file, readme];
    }
}

/// <summary>Grouped bar charts (ScottPlot) shared by scenarios that write their own reports.</summary>
internal static class ScottPlotChart
{
    public static void Bars(string title, string[] labels, (string Name, double[] Values)[] series, string path)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<ScottPlot.Bar>();
        var width = 0.8 / series.Length;
        for (var s = 0; s < series.Length; s++)
        {
            for (var i = 0; i < labels.Length; i++)
            {
                bars.Add(new ScottPlot.Bar { Position = i + (s * width) - 0.4 + (width / 2), Value = series[s].Values[i], Size = width * 0.9, FillColor = palette.GetColor(s) });
            }
        }

        plot.Add.Bars(bars);
        for (var s = 0; s < series.Length; s++)
        {
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = series[s].Name, FillColor = palette.GetColor(s) });
        }

        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, labels.Length).Select(i => (double)i)], labels);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = ScottPlot.Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 200;
        plot.Axes.Margins(bottom: 0);
        plot.YLabel("µs");
        plot.Title(title);
        plot.SaveSvg(path, 1200, 700);
    }
}
