using System.Globalization;
using HdrHistogram;

namespace Mesh.Testing;

/// <summary>Latency percentiles of a set of requests.</summary>
public sealed class LatencySummary
{
    /// <summary>Creates a summary.</summary>
    /// <param name="count">Samples.</param>
    /// <param name="p50">Median.</param>
    /// <param name="p90">90th percentile.</param>
    /// <param name="p99">99th percentile.</param>
    /// <param name="p999">99.9th percentile.</param>
    /// <param name="max">Largest sample.</param>
    public LatencySummary(long count, TimeSpan p50, TimeSpan p90, TimeSpan p99, TimeSpan p999, TimeSpan max)
    {
        Count = count;
        P50 = p50;
        P90 = p90;
        P99 = p99;
        P999 = p999;
        Max = max;
    }

    /// <summary>Samples.</summary>
    public long Count { get; }

    /// <summary>Median.</summary>
    public TimeSpan P50 { get; }

    /// <summary>90th percentile.</summary>
    public TimeSpan P90 { get; }

    /// <summary>99th percentile.</summary>
    public TimeSpan P99 { get; }

    /// <summary>99.9th percentile.</summary>
    public TimeSpan P999 { get; }

    /// <summary>Largest sample.</summary>
    public TimeSpan Max { get; }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Count} samples; p50 {P50.TotalMilliseconds:F2} ms, p90 {P90.TotalMilliseconds:F2} ms, p99 {P99.TotalMilliseconds:F2} ms, p99.9 {P999.TotalMilliseconds:F2} ms, max {Max.TotalMilliseconds:F2} ms");

    internal static LatencySummary From(HistogramBase histogram)
    {
        if (histogram.TotalCount == 0)
        {
            return new LatencySummary(0, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);
        }

        static TimeSpan Us(long microseconds) => TimeSpan.FromTicks(microseconds * 10);
        return new LatencySummary(histogram.TotalCount, Us(histogram.GetValueAtPercentile(50)), Us(histogram.GetValueAtPercentile(90)),
            Us(histogram.GetValueAtPercentile(99)), Us(histogram.GetValueAtPercentile(99.9)), Us(histogram.GetMaxValue()));
    }
}
