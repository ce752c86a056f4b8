using Mesh.Resilience.Internal;

namespace Mesh.Tests.Resilience;

/// <summary>The latency histogram behind the hedging delay: percentiles within its 12.5% resolution, a sliding window,
/// and no answer before enough samples.</summary>
public sealed class LatencyHistogramTests
{
    private const double Frequency = 1_000_000; // one tick per microsecond

    [Fact]
    public void The_95th_percentile_of_known_latencies_is_found_within_the_bucket_resolution()
    {
        var histogram = new LatencyHistogram(TimeSpan.FromSeconds(10), Frequency);
        for (var i = 1; i <= 1000; i++)
        {
            histogram.Record(elapsedTicks: i * 10, now: 1_000); // 10 µs .. 10 ms, uniform
        }

        Assert.True(histogram.TryGetPercentile(95, now: 1_000, minSamples: 20, out var p95));
        Assert.InRange(p95.TotalMicroseconds, 9_500, 9_500 * 1.125);
        Assert.True(histogram.TryGetPercentile(50, now: 1_000, minSamples: 20, out var p50));
        Assert.InRange(p50.TotalMicroseconds, 5_000, 5_000 * 1.125);
    }

    [Fact]
    public void Without_enough_samples_there_is_no_percentile()
    {
        var histogram = new LatencyHistogram(TimeSpan.FromSeconds(10), Frequency);
        for (var i = 0; i < 19; i++)
        {
            histogram.Record(100, now: 5);
        }

        Assert.False(histogram.TryGetPercentile(95, now: 5, minSamples: 20, out _));
        histogram.Record(100, now: 5);
        Assert.True(histogram.TryGetPercentile(95, now: 5, minSamples: 20, out _));
    }

    [Fact]
    public void Samples_older_than_the_window_are_forgotten()
    {
        var histogram = new LatencyHistogram(TimeSpan.FromSeconds(10), Frequency);
        for (var i = 0; i < 100; i++)
        {
            histogram.Record(50_000, now: 1_000_000); // 50 ms, at t = 1 s
        }

        for (var i = 0; i < 100; i++)
        {
            histogram.Record(1_000, now: 12_000_000); // 1 ms, at t = 12 s
        }

        Assert.True(histogram.TryGetPercentile(99, now: 12_000_000, minSamples: 20, out var recent));
        Assert.True(recent < TimeSpan.FromMilliseconds(2), $"p99 {recent}");
        Assert.False(histogram.TryGetPercentile(99, now: 40_000_000, minSamples: 1, out _));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(7L)]
    [InlineData(8L)]
    [InlineData(1_000L)]
    [InlineData(123_456L)]
    [InlineData(60_000_000L)]
    public void Every_latency_falls_in_a_bucket_whose_upper_bound_is_above_it_by_at_most_an_eighth(long microseconds)
    {
        var bound = LatencyHistogram.UpperBound(LatencyHistogram.Bucket(microseconds));

        Assert.True(bound > microseconds);
        Assert.True(bound <= Math.Max(microseconds * 1.125 + 1, microseconds + 1), $"{microseconds} µs -> {bound}");
    }
}
