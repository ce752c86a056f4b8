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

    public FairnessResult? Fairness { get; set; }
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

        if (Fairness is { } fairness)
        {
            FairnessMarkdown(md, fairness, settings.Rounds);
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

    private static void FairnessMarkdown(StringBuilder md, FairnessResult fairness, int rounds)
    {
        static string Shares(IEnumerable<double[]> runs) =>
            string.Join(" / ", Enumerable.Range(0, runs.First().Length).Select(i => F(LoadRunner.Median(runs.Select(r => r[i] * 100)), "F1")));

        foreach (var (group, title, tolerance) in new[]
        {
            ("equal", "### Fairness: equal replicas (issue 16, item 1: each within ±25% of an even share)", 0.25),
            ("weights", "### Fairness: weights 1:3 and 1:2:3 on equal replicas (item 2: each within ±15% of its weight share)", 0.15),
        })
        {
            md.AppendLine(title);
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"Shares in % per replica (medians of {rounds} runs, a fresh client each); a run's deviation is its largest relative difference between a replica's share and its expected share.");
            md.AppendLine();
            md.AppendLine("| balancer | replicas (weights) | concurrency | requests per run | shares % (r0 / r1 / ...) | median run's worst deviation | runs within ± | worst run's deviation |");
            md.AppendLine("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |");
            foreach (var g in fairness.Shares.Where(r => r.Group == group).GroupBy(r => r.Label))
            {
                var first = g.First();
                var worst = g.Max(r => r.WorstDeviation);
                var median = LoadRunner.Median(g.Select(r => r.WorstDeviation));
                md.AppendLine(CultureInfo.InvariantCulture, $"| {first.Balancer} | {(first.Weights.All(w => w == 1) ? $"{first.Weights.Length} equal" : string.Join(':', first.Weights))} | {first.Concurrency} | {first.Requests} | {Shares(g.Select(r => r.Shares))} | {F(median * 100, "F1")}% | {g.Count(r => r.WorstDeviation <= tolerance)} of {g.Count()} | {F(worst * 100, "F1")}% |");
            }

            md.AppendLine();
        }

        md.AppendLine("### Latency still wins: one of 5 replicas 2× slower (10 ms vs 5 ms, slept with nanosleep in the replica) (item 3)");
        md.AppendLine();
        md.AppendLine("| balancer | concurrency | slow replica's share | ÷ fair share (20%) |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        foreach (var g in fairness.Shares.Where(r => r.Group == "2x slower").GroupBy(r => r.Label))
        {
            var share = LoadRunner.Median(g.Select(r => r.Shares[4]));
            md.AppendLine(CultureInfo.InvariantCulture, $"| {g.First().Balancer} | {g.First().Concurrency} | {F(share * 100, "F1")}% | {F(share * 5, "F2")} |");
        }

        md.AppendLine();
        md.AppendLine("### Recovery: a replica +50 ms for 2 s at concurrency 16, then healthy again (item 3)");
        md.AppendLine();
        md.AppendLine("| balancer | its share while slow | back to 50% of its fair share after | back to 80% after |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        foreach (var g in fairness.Recovery.GroupBy(r => r.Balancer))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {g.Key} | {F(LoadRunner.Median(g.Select(r => r.SlowShare * 100)), "F2")}% | {F(LoadRunner.Median(g.Select(r => r.HalfBackMs)))} ms | {F(LoadRunner.Median(g.Select(r => r.FullBackMs)))} ms |");
        }

        md.AppendLine();
        md.AppendLine("### Slow start: a third replica added under load (concurrency 4), window 4 s (item 2)");
        md.AppendLine();
        md.AppendLine("Its share per 0.5 s slice (median of the rounds) against `weight × max(10%, t / window)` ÷ total weight (docs/configuration.md):");
        md.AppendLine();
        var slices = fairness.SlowStart.First().Shares.Length;
        md.AppendLine("| balancer | " + string.Join(" | ", Enumerable.Range(1, slices).Select(i => F(i * 0.5, "F1") + " s")) + " |");
        md.AppendLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", slices)));
        md.AppendLine("| expected | " + string.Join(" | ", fairness.SlowStart.First().Expected.Select(e => F(e * 100) + "%")) + " |");
        foreach (var g in fairness.SlowStart.GroupBy(r => r.Balancer))
        {
            md.AppendLine($"| {g.Key} | " + string.Join(" | ", Enumerable.Range(0, slices).Select(i => F(LoadRunner.Median(g.Select(r => r.Shares[i] * 100))) + "%")) + " |");
        }

        md.AppendLine();
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

        if (Fairness is { } fairness)
        {
            var svg = Path.Combine(resultsDirectory, $"{stamp}-fairness.svg");
            ShareChart(fairness, svg);
            written.Add(svg);
            charts.AppendLine(CultureInfo.InvariantCulture, $"![fairness](results/{Path.GetFileName(svg)})");
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
        var scenario = string.Join('+', new[] { Overhead is null ? null : "overhead", OverheadTls is null ? null : "overhead-mtls", Trouble is null ? null : "trouble", Failover is null ? null : "failover", Fairness is null ? null : "fairness", Grpc is null ? null : "grpc" }.Where(x => x is not null));
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

    /// <summary>Per-replica share ÷ expected share for every equal-replica and weighted run (medians of the rounds),
    /// one bar per replica, with the issue's tolerance bands.</summary>
    private static void ShareChart(FairnessResult fairness, string path)
    {
        var groups = fairness.Shares.Where(r => r.Group is "equal" or "weights").GroupBy(r => r.Label).ToList();
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        const double width = 0.16;
        for (var c = 0; c < groups.Count; c++)
        {
            var ratios = groups[c].Select(r => r.Ratios).ToList();
            var n = ratios[0].Length;
            for (var i = 0; i < n; i++)
            {
                var value = LoadRunner.Median(ratios.Select(r => r[i]));
                bars.Add(new Bar { Position = c + ((i - ((n - 1) / 2.0)) * width), Value = value, Size = width * 0.9, FillColor = palette.GetColor(i) });
            }
        }

        plot.Add.Bars(bars);
        foreach (var (y, label) in new[] { (1.0, "expected"), (1.25, "±25% (equal)"), (0.75, ""), (1.15, "±15% (weights)"), (0.85, "") })
        {
            var line = plot.Add.HorizontalLine(y);
            line.LineWidth = y == 1.0 ? 1.5f : 1;
            line.LinePattern = y == 1.0 ? LinePattern.Solid : LinePattern.Dashed;
            line.LineColor = y is 1.25 or 0.75 ? Colors.Gray : y is 1.15 or 0.85 ? Colors.DarkRed : Colors.Black;
            if (label.Length > 0)
            {
                line.LegendText = label;
            }
        }

        for (var i = 0; i < 5; i++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = $"r{i}", FillColor = palette.GetColor(i) });
        }

        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, groups.Count).Select(i => (double)i)], [.. groups.Select(g => g.Key)]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 190;
        plot.Axes.SetLimitsY(0, 1.6);
        plot.YLabel("share ÷ expected share");
        plot.Title("Per-replica share of traffic ÷ expected (weight) share, medians of the rounds");
        plot.SaveSvg(path, 1400, 700);
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
