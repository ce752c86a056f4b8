using System.Globalization;
using System.Text;

namespace Mesh.Soak;

/// <summary>The soak's Markdown report and charts, and its section of bench/README.md.</summary>
internal static class SoakReport
{
    /// <summary>The bounds the soak holds the client to (also asserted by the short soak in the test suite).</summary>
    public static class Bounds
    {
        /// <summary>Retained GC heap may grow by at most this much from start to end (after full collections).</summary>
        public const long HeapGrowthBytes = 32L * 1024 * 1024;

        /// <summary>Open sockets may grow by at most this many (pools, a replica more during a rolling update).</summary>
        public const int SocketGrowth = 64;

        /// <summary>Active timers may grow by at most this many.</summary>
        public const int TimerGrowth = 64;

        /// <summary>Threads may grow by at most this many.</summary>
        public const int ThreadGrowth = 32;
    }

    private static string F(double value, string format = "F1") => value.ToString(format, CultureInfo.InvariantCulture);

    private static double Ms(long microseconds) => microseconds / 1000.0;

    public static string Markdown(SoakResult result, string machine, string command)
    {
        var o = result.Options;
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {machine}. Command: `{command}`. {o.Duration.TotalMinutes:0.#} min at {F(o.RequestsPerSecond, "F0")} requests/s (open loop, at most {o.MaxInFlight} in flight), {o.Replicas} replica processes over mTLS registered in etcd, a chaos event every {o.ChaosInterval.TotalSeconds:0} s.");
        md.AppendLine();
        var ok = result.Phases.Sum(p => p.Ok);
        md.AppendLine(CultureInfo.InvariantCulture, $"**{result.Sent:N0} requests sent, {result.Failed:N0} failed**, {result.Skipped:N0} not sent (client saturated); retries refused by the retry budget: {result.RetryBudgetRefusals:N0}; attempts by outcome: {string.Join(", ", result.AttemptsByOutcome.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key} {a.Value:N0}"))}.");
        md.AppendLine();
        md.AppendLine("| phase (what happened at its start) | requests | failed | p50 ms | p99 ms | max ms |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var group in result.Phases.GroupBy(p => p.Name))
        {
            var histogram = group.First().Latency.Copy();
            foreach (var p in group.Skip(1))
            {
                histogram.Add(p.Latency);
            }

            var failures = group.Sum(p => p.Failed);
            var count = histogram.TotalCount;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key} (×{group.Count()}) | {group.Sum(p => p.Sent):N0} | {failures} | {(count == 0 ? "-" : F(Ms(histogram.GetValueAtPercentile(50))))} | {(count == 0 ? "-" : F(Ms(histogram.GetValueAtPercentile(99))))} | {(count == 0 ? "-" : F(Ms(histogram.GetValueAtPercentile(100))))} |");
        }

        var reasons = result.Phases.SelectMany(p => p.Failures).GroupBy(f => f.Key).Select(g => $"{g.Key} ×{g.Sum(x => x.Value)}").ToList();
        if (reasons.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Failures: " + string.Join("; ", reasons));
        }

        if (result.Unsuccessful.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Attempts that did not succeed, by chaos event, endpoint and outcome (the 12 largest):");
            md.AppendLine();
            md.AppendLine("| event | endpoint | outcome | attempts |");
            md.AppendLine("| --- | --- | --- | ---: |");
            foreach (var (key, count) in result.Unsuccessful.OrderByDescending(p => p.Value).Take(12))
            {
                var parts = key.Split(" | ");
                md.AppendLine(CultureInfo.InvariantCulture, $"| {parts[0]} | {parts[1]} | {parts[2]} | {count:N0} |");
            }
        }

        md.AppendLine();
        md.AppendLine("| resource (client process, after a full GC) | start | middle | end | bound on growth |");
        md.AppendLine("| --- | ---: | ---: | ---: | --- |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| working set MB | {F(result.Start.WorkingSetBytes / 1048576.0)} | {F(result.Middle.WorkingSetBytes / 1048576.0)} | {F(result.End.WorkingSetBytes / 1048576.0)} | (reported) |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| GC heap MB | {F(result.Start.GcHeapBytes / 1048576.0)} | {F(result.Middle.GcHeapBytes / 1048576.0)} | {F(result.End.GcHeapBytes / 1048576.0)} | ≤ {Bounds.HeapGrowthBytes / 1048576} MB |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| threads (thread pool) | {result.Start.Threads} ({result.Start.ThreadPoolThreads}) | {result.Middle.Threads} ({result.Middle.ThreadPoolThreads}) | {result.End.Threads} ({result.End.ThreadPoolThreads}) | ≤ {Bounds.ThreadGrowth} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| open sockets | {result.Start.Sockets} | {result.Middle.Sockets} | {result.End.Sockets} | ≤ {Bounds.SocketGrowth} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| active timers | {result.Start.Timers} | {result.Middle.Timers} | {result.End.Timers} | ≤ {Bounds.TimerGrowth} |");
        md.AppendLine();
        return md.ToString();
    }

    /// <summary>Problems with the bounds (empty when the run held them).</summary>
    public static List<string> Violations(SoakResult result)
    {
        var problems = new List<string>();
        if (result.End.GcHeapBytes - result.Start.GcHeapBytes > Bounds.HeapGrowthBytes)
        {
            problems.Add($"GC heap grew from {result.Start.GcHeapBytes:N0} to {result.End.GcHeapBytes:N0} bytes");
        }

        if (result.End.Sockets - result.Start.Sockets > Bounds.SocketGrowth)
        {
            problems.Add($"open sockets grew from {result.Start.Sockets} to {result.End.Sockets}");
        }

        if (result.End.Timers - result.Start.Timers > Bounds.TimerGrowth)
        {
            problems.Add($"active timers grew from {result.Start.Timers} to {result.End.Timers}");
        }

        if (result.End.Threads - result.Start.Threads > Bounds.ThreadGrowth)
        {
            problems.Add($"threads grew from {result.Start.Threads} to {result.End.Threads}");
        }

        return problems;
    }

    public static List<string> Write(SoakResult result, string name, string machine, string command, string resultsDirectory, string readme)
    {
        Directory.CreateDirectory(resultsDirectory);
        var stamp = DateTime.UtcNow.ToString("yyyy-MM-dd-HHmm", CultureInfo.InvariantCulture);
        var markdown = Markdown(result, machine, command);
        var latencySvg = Path.Combine(resultsDirectory, $"{stamp}-{name}-latency.svg");
        var memorySvg = Path.Combine(resultsDirectory, $"{stamp}-{name}-resources.svg");
        LatencyChart(result, latencySvg);
        ResourceChart(result, memorySvg);
        var file = Path.Combine(resultsDirectory, $"{stamp}-{name}.md");
        File.WriteAllText(file, $"# {name} {stamp}\n\n{markdown}\n![latency]({Path.GetFileName(latencySvg)})\n![resources]({Path.GetFileName(memorySvg)})\n\nEvents:\n\n```\n{string.Join('\n', result.Events)}\n```\n");
        var begin = $"<!-- soak:{name}:begin -->";
        var end = $"<!-- soak:{name}:end -->";
        var section = $"{begin}\n_Latest run: {stamp} UTC ([report](results/{Path.GetFileName(file)}))_\n\n{markdown}\n![latency](results/{Path.GetFileName(latencySvg)})\n![resources](results/{Path.GetFileName(memorySvg)})\n{end}";
        var text = File.Exists(readme) ? File.ReadAllText(readme) : "# Benchmarks\n\n";
        var at = text.IndexOf(begin, StringComparison.Ordinal);
        var to = text.IndexOf(end, StringComparison.Ordinal);
        text = at >= 0 && to > at ? text[..at] + section + text[(to + end.Length)..] : text.TrimEnd() + $"\n\n## Soak: {name}\n\n" + section + "\n";
        File.WriteAllText(readme, text);
        return [latencySvg, memorySvg, file, readme];
    }

    private static void LatencyChart(SoakResult result, string path)
    {
        var plot = new ScottPlot.Plot();
        var xs = result.Phases.Select(p => p.StartedAt.TotalSeconds).ToArray();
        var p50 = result.Phases.Select(p => p.Latency.TotalCount == 0 ? 0 : Ms(p.Latency.GetValueAtPercentile(50))).ToArray();
        var p99 = result.Phases.Select(p => p.Latency.TotalCount == 0 ? 0 : Ms(p.Latency.GetValueAtPercentile(99))).ToArray();
        var s1 = plot.Add.Scatter(xs, p50);
        s1.LegendText = "p50";
        var s2 = plot.Add.Scatter(xs, p99);
        s2.LegendText = "p99";
        var failedXs = result.Phases.Where(p => p.Failed > 0).Select(p => p.StartedAt.TotalSeconds).ToArray();
        if (failedXs.Length > 0)
        {
            var f = plot.Add.ScatterPoints(failedXs, [.. failedXs.Select(_ => 0.0)]);
            f.LegendText = "phase with failed requests";
            f.MarkerSize = 10;
        }

        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.XLabel("seconds (each point: one phase, which begins with a chaos event)");
        plot.YLabel("ms");
        plot.Title("Soak: latency per phase");
        plot.SaveSvg(path, 1100, 500);
    }

    private static void ResourceChart(SoakResult result, string path)
    {
        var plot = new ScottPlot.Plot();
        var xs = result.Samples.Select(s => s.At.TotalSeconds).ToArray();
        var ws = plot.Add.Scatter(xs, [.. result.Samples.Select(s => s.WorkingSetBytes / 1048576.0)]);
        ws.LegendText = "working set MB";
        var heap = plot.Add.Scatter(xs, [.. result.Samples.Select(s => s.GcHeapBytes / 1048576.0)]);
        heap.LegendText = "GC heap MB (not collected)";
        var sockets = plot.Add.Scatter(xs, [.. result.Samples.Select(s => (double)s.Sockets)]);
        sockets.LegendText = "open sockets";
        var threads = plot.Add.Scatter(xs, [.. result.Samples.Select(s => (double)s.Threads)]);
        threads.LegendText = "threads";
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.XLabel("seconds");
        plot.Title("Soak: client resources over time");
        plot.SaveSvg(path, 1100, 500);
    }
}
