using System.Globalization;
using System.Text;
using ScottPlot;

namespace Mesh.LoadBench;

/// <summary>Turns results into a Markdown report and SVG charts under bench/results, and the latest tables into bench/README.md.</summary>
internal sealed class Report(string machine, string command, BenchSettings settings)
{
    public List<RunResult>? Overhead { get; set; }

    public List<RunResult>? OverheadTls { get; set; }

    public List<(string Scenario, RunResult Result)>? Trouble { get; set; }

    public List<FailoverResult>? Failover { get; set; }

    public List<GrpcRunResult>? Grpc { get; set; }

    private static string F(double value, string format = "F0") => value.ToString(format, CultureInfo.InvariantCulture);

    public string Markdown()
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {machine}. Command: `{command}`. {settings.Rounds} interleaved rounds of {settings.Duration.TotalSeconds:F1} s per configuration; medians of the rounds; replicas are separate processes (InProcessReplica, Kestrel) on loopback.");
        md.AppendLine();
        foreach (var (title, overhead, baseline) in new[]
        {
            ("### Overhead: the same 3 replicas, direct vs mesh vs sidecar vs MESD", Overhead, "direct"),
            ("### Overhead with mutual TLS (SPIFFE SVIDs both ways; the direct clients run the same identity checks)", OverheadTls, "direct mTLS"),
        })
        {
            if (overhead is null)
            {
                continue;
            }

            md.AppendLine(title);
            md.AppendLine();
            foreach (var concurrency in overhead.Select(r => r.Concurrency).Distinct())
            {
                var rows = overhead.Where(r => r.Concurrency == concurrency).GroupBy(r => r.Config).Select(g => (Config: g.Key,
                    Rps: LoadRunner.Median(g.Select(r => r.RequestsPerSecond)), P50: LoadRunner.Median(g.Select(r => r.P50Us)),
                    P99: LoadRunner.Median(g.Select(r => r.P99Us)), P999: LoadRunner.Median(g.Select(r => r.P999Us)), Failed: g.Sum(r => r.Failed))).ToList();
                var direct = rows.First(r => r.Config == baseline);
                md.AppendLine(CultureInfo.InvariantCulture, $"Concurrency {concurrency}:");
                md.AppendLine();
                var spread = rows.FirstOrDefault(r => r.Config.StartsWith(baseline + ", rotating", StringComparison.Ordinal));
                md.AppendLine("| configuration | req/s | × direct | × direct spread | p50 µs | × direct | p99 µs | × direct | p99.9 µs | × direct | failed |");
                md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
                foreach (var r in rows)
                {
                    var vsSpread = spread.Config is null ? "–" : F(r.Rps / spread.Rps, "F2");
                    md.AppendLine(CultureInfo.InvariantCulture, $"| {r.Config} | {F(r.Rps)} | {F(r.Rps / direct.Rps, "F2")} | {vsSpread} | {F(r.P50)} | {F(r.P50 / direct.P50, "F2")} | {F(r.P99)} | {F(r.P99 / direct.P99, "F2")} | {F(r.P999)} | {F(r.P999 / direct.P999, "F2")} | {r.Failed} |");
                }

                md.AppendLine();
            }
        }

        if (Trouble is { } trouble)
        {
            md.AppendLine("### Tail latency under trouble: 5 replicas, concurrency 16, a fresh client per run");
            md.AppendLine();
            md.AppendLine("| configuration | scenario | p50 µs | p99 µs | p99 ÷ all-healthy p99 of the same client | failed requests |");
            md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: |");
            foreach (var group in trouble.GroupBy(t => (t.Result.Config, t.Scenario)))
            {
                var healthy = LoadRunner.Median(trouble.Where(t => t.Result.Config == group.Key.Config && t.Scenario == "all healthy").Select(t => t.Result.P99Us));
                var p99 = LoadRunner.Median(group.Select(t => t.Result.P99Us));
                md.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key.Config} | {group.Key.Scenario} | {F(LoadRunner.Median(group.Select(t => t.Result.P50Us)))} | {F(p99)} | {F(p99 / healthy, "F2")} | {group.Sum(t => t.Result.Failed)} of {group.Sum(t => t.Result.Failed + t.Result.Ok)} |");
            }

            md.AppendLine();
        }

        if (Failover is { } failover)
        {
            md.AppendLine("### Failover: one of 3 replica processes killed (SIGKILL) under load, concurrency 8");
            md.AppendLine();
            md.AppendLine("| configuration | failed requests (median) | attempts sent to the dead replica after the kill (median) | last such attempt, ms after the kill (median) |");
            md.AppendLine("| --- | ---: | ---: | ---: |");
            foreach (var group in failover.GroupBy(f => f.Config))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key} | {F(LoadRunner.Median(group.Select(f => (double)f.Failed)))} | {F(LoadRunner.Median(group.Select(f => (double)f.AttemptsAfterKill)))} | {F(LoadRunner.Median(group.Select(f => f.LastAttemptMs)))} |");
            }

            md.AppendLine();
        }

        if (Grpc is { } grpc)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"### gRPC: 3 replicas, one answering 10% of calls with UNAVAILABLE; unary calls, concurrency {GrpcScenario.Concurrency}, no retries, a fresh client per run");
            md.AppendLine();
            md.AppendLine("| configuration | failed calls (all rounds) | of calls | failed % | × mesh before (GrpcStatusCodes None) | calls/s | p50 µs | p99 µs |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var group in grpc.GroupBy(r => r.Config))
            {
                var failed = group.Sum(r => r.Failed);
                var total = group.Sum(r => r.Failed + r.Ok);
                var before = grpc.Where(r => r.Config == BeforeOf(group.Key)).ToList();
                var vsBefore = before.Count == 0 || before.Sum(r => r.Failed) == 0 ? "–" : F((double)failed / total / ((double)before.Sum(r => r.Failed) / before.Sum(r => r.Failed + r.Ok)), "F2");
                md.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key} | {failed} | {total} | {F(100.0 * failed / total, "F2")} | {vsBefore} | {F(LoadRunner.Median(group.Select(r => r.CallsPerSecond)))} | {F(LoadRunner.Median(group.Select(r => r.P50Us)))} | {F(LoadRunner.Median(group.Select(r => r.P99Us)))} |");
            }

            md.AppendLine();
        }

        return md.ToString();
    }

    /// <summary>The "GrpcStatusCodes None" twin of a mesh configuration (itself for one); none for grpc-dotnet.</summary>
    private static string BeforeOf(string config) =>
        config.EndsWith(", GrpcStatusCodes None", StringComparison.Ordinal) ? config
        : config.StartsWith("mesh ", StringComparison.Ordinal) ? config + ", GrpcStatusCodes None"
        : "";

    public List<string> Write(string resultsDirectory, string readme)
    {
        Directory.CreateDirectory(resultsDirectory);
        var stamp = DateTime.UtcNow.ToString("yyyy-MM-dd-HHmm", CultureInfo.InvariantCulture);
        var written = new List<string>();
        var markdown = Markdown();
        var charts = new StringBuilder();
        if (Overhead is { } overhead)
        {
            var svg = Path.Combine(resultsDirectory, $"{stamp}-overhead.svg");
            var c16 = overhead.Where(r => r.Concurrency == overhead.Max(o => o.Concurrency)).GroupBy(r => r.Config).ToList();
            Chart($"Latency per configuration (concurrency {overhead.Max(o => o.Concurrency)}, medians)", c16.Select(g => g.Key).ToArray(),
                [("p50", c16.Select(g => LoadRunner.Median(g.Select(r => r.P50Us))).ToArray()), ("p99", c16.Select(g => LoadRunner.Median(g.Select(r => r.P99Us))).ToArray()), ("p99.9", c16.Select(g => LoadRunner.Median(g.Select(r => r.P999Us))).ToArray())], svg);
            written.Add(svg);
            charts.AppendLine(CultureInfo.InvariantCulture, $"![overhead](results/{Path.GetFileName(svg)})");
        }

        if (Trouble is { } trouble)
        {
            var svg = Path.Combine(resultsDirectory, $"{stamp}-trouble.svg");
            var configs = trouble.Select(t => t.Result.Config).Distinct().ToArray();
            var series = trouble.Select(t => t.Scenario).Distinct().Select(s => (s, configs.Select(c => LoadRunner.Median(trouble.Where(t => t.Scenario == s && t.Result.Config == c).Select(t => t.Result.P99Us))).ToArray())).ToArray();
            Chart("p99 latency under trouble (5 replicas, concurrency 16)", configs, series, svg);
            written.Add(svg);
            charts.AppendLine(CultureInfo.InvariantCulture, $"![trouble](results/{Path.GetFileName(svg)})");
        }

        if (Grpc is { } grpc)
        {
            var svg = Path.Combine(resultsDirectory, $"{stamp}-grpc.svg");
            var configs = grpc.Select(r => r.Config).Distinct().ToArray();
            Chart("Failed gRPC calls, one of 3 replicas failing 10% with UNAVAILABLE (concurrency 16)", configs,
                [("failed %", configs.Select(c => 100.0 * grpc.Where(r => r.Config == c).Sum(r => r.Failed) / grpc.Where(r => r.Config == c).Sum(r => r.Failed + r.Ok)).ToArray())], svg, "% of calls failed");
            written.Add(svg);
            charts.AppendLine(CultureInfo.InvariantCulture, $"![grpc](results/{Path.GetFileName(svg)})");
        }

        var file = Path.Combine(resultsDirectory, $"{stamp}-load.md");
        File.WriteAllText(file, $"# Load bench {stamp}\n\n{markdown}\n{charts.ToString().Replace("results/", "", StringComparison.Ordinal)}");
        written.Add(file);

        // One section per scenario in bench/README.md, so scenarios run separately keep each other's latest tables.
        var scenario = string.Join('+', new[] { Overhead is null ? null : "overhead", OverheadTls is null ? null : "overhead-mtls", Trouble is null ? null : "trouble", Failover is null ? null : "failover", Grpc is null ? null : "grpc" }.Where(x => x is not null));
        var begin = $"<!-- load-bench:{scenario}:begin -->";
        var end = $"<!-- load-bench:{scenario}:end -->";
        var section = $"{begin}\n_Latest run: {stamp} UTC ([report](results/{Path.GetFileName(file)}))_\n\n{markdown}\n{charts}{end}";
        var text = File.Exists(readme) ? File.ReadAllText(readme) : "# Benchmarks\n\n";
        var at = text.IndexOf(begin, StringComparison.Ordinal);
        var to = text.IndexOf(end, StringComparison.Ordinal);
        text = at >= 0 && to > at ? text[..at] + section + text[(to + end.Length)..] : text.TrimEnd() + $"\n\n## Load bench: {scenario}\n\n" + section + "\n";
        File.WriteAllText(readme, text);
        written.Add(readme);
        return written;
    }

    private static void Chart(string title, string[] labels, (string Name, double[] Values)[] series, string path, string yLabel = "µs")
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        var width = 0.8 / series.Length;
        for (var s = 0; s < series.Length; s++)
        {
            for (var i = 0; i < labels.Length; i++)
            {
                bars.Add(new Bar { Position = i + (s * width) - 0.4 + (width / 2), Value = series[s].Values[i], Size = width * 0.9, FillColor = palette.GetColor(s) });
            }
        }

        plot.Add.Bars(bars);
        for (var s = 0; s < series.Length; s++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = series[s].Name, FillColor = palette.GetColor(s) });
        }

        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, labels.Length).Select(i => (double)i)], labels);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 160;
        plot.Axes.Margins(bottom: 0);
        plot.YLabel(yLabel);
        plot.Title(title);
        plot.SaveSvg(path, 1100, 650);
    }
}
