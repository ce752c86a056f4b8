using System.Numerics;

namespace Mesh.Resilience.Internal;

/// <summary>
/// Recent attempt latencies of one service, for percentiles (the hedging delay): a log-linear histogram in
/// microseconds (8 buckets per power of two, so a percentile is within 12.5%), kept over a sliding window as two
/// half-window generations. Recording is one interlocked increment, lock-free and allocation-free; a percentile reads
/// both generations. Samples lost to a concurrent rotation are acceptable for a latency estimate.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int Bits = 27; // up to 2^27 µs ≈ 134 s; longer attempts count in the last bucket
    private const int BucketCount = Bits * 8;
    private readonly int[][] _generations = [new int[BucketCount], new int[BucketCount]];
    private readonly long[] _epochs = [long.MinValue / 2, long.MinValue / 2];
    private readonly long _halfWindowTicks;
    private readonly double _ticksPerMicrosecond;
    private readonly long _tailRefreshTicks;
    private long _tailThreshold;
    private long _tailThresholdDue;

    public LatencyHistogram(TimeSpan window, double timestampFrequency)
    {
        _halfWindowTicks = Math.Max(1, (long)(window.TotalSeconds * timestampFrequency / 2));
        _ticksPerMicrosecond = timestampFrequency / 1_000_000;
        _tailRefreshTicks = Math.Max(1, (long)(timestampFrequency / 10));
    }

    /// <summary>How many recent attempts the tail threshold needs (fewer make a noisy percentile).</summary>
    public const int TailMinSamples = 200;

    /// <summary>The <see cref="Endpoints.Internal.EndpointState.TailPercentile"/>th percentile of recent attempts, in
    /// timestamp ticks, for <see cref="Endpoints.Internal.EndpointState.ObserveTail"/>; 0 until
    /// <see cref="TailMinSamples"/> attempts were recorded. Read from the histogram at most every 100 ms (by one
    /// caller; the others use the last value), so it costs nothing per attempt.</summary>
    public long TailThreshold(long now)
    {
        var due = Volatile.Read(ref _tailThresholdDue);
        if (now >= due && Interlocked.CompareExchange(ref _tailThresholdDue, now + _tailRefreshTicks, due) == due)
        {
            Volatile.Write(ref _tailThreshold, TryGetPercentile(Endpoints.Internal.EndpointState.TailPercentile, now, TailMinSamples, out var value)
                ? (long)(value.TotalMicroseconds * _ticksPerMicrosecond)
                : 0);
        }

        return Volatile.Read(ref _tailThreshold);
    }

    /// <summary>Records one attempt that took <paramref name="elapsedTicks"/>, ending at <paramref name="now"/>.</summary>
    public void Record(long elapsedTicks, long now)
    {
        var epoch = now / _halfWindowTicks;
        var g = (int)(epoch & 1);
        if (Volatile.Read(ref _epochs[g]) != epoch)
        {
            Rotate(g, epoch);
        }

        Interlocked.Increment(ref _generations[g][Bucket((long)(Math.Max(elapsedTicks, 0) / _ticksPerMicrosecond))]);
    }

    private void Rotate(int g, long epoch)
    {
        var seen = Volatile.Read(ref _epochs[g]);
        if (seen < epoch && Interlocked.CompareExchange(ref _epochs[g], epoch, seen) == seen)
        {
            Array.Clear(_generations[g]);
        }
    }

    /// <summary>The <paramref name="percentile"/>th percentile of the attempts recorded in the last window, when at
    /// least <paramref name="minSamples"/> were.</summary>
    public bool TryGetPercentile(double percentile, long now, int minSamples, out TimeSpan value)
    {
        var epoch = now / _halfWindowTicks;
        Span<long> counts = stackalloc long[BucketCount];
        long total = 0;
        for (var g = 0; g < 2; g++)
        {
            var age = epoch - Volatile.Read(ref _epochs[g]);
            if (age is < 0 or > 1)
            {
                continue;
            }

            var generation = _generations[g];
            for (var b = 0; b < BucketCount; b++)
            {
                var c = Volatile.Read(ref generation[b]);
                counts[b] += c;
                total += c;
            }
        }

        if (total < Math.Max(minSamples, 1))
        {
            value = default;
            return false;
        }

        var rank = (long)Math.Ceiling(percentile / 100 * total);
        long seen = 0;
        for (var b = 0; b < BucketCount; b++)
        {
            seen += counts[b];
            if (seen >= rank)
            {
                value = TimeSpan.FromMicroseconds(UpperBound(b));
                return true;
            }
        }

        value = TimeSpan.FromMicroseconds(UpperBound(BucketCount - 1));
        return true;
    }

    /// <summary>The bucket of a latency in microseconds: exact below 8 µs, then 8 per power of two.</summary>
    internal static int Bucket(long microseconds)
    {
        if (microseconds < 8)
        {
            return (int)Math.Max(microseconds, 0);
        }

        if (microseconds >= 1L << Bits)
        {
            return BucketCount - 1;
        }

        var log = Math.Min(BitOperations.Log2((ulong)microseconds), Bits - 1);
        var mantissa = (int)((microseconds >> (log - 3)) & 7);
        return (log * 8) + mantissa;
    }

    /// <summary>The largest latency (µs, exclusive) that falls in <paramref name="bucket"/>.</summary>
    internal static long UpperBound(int bucket)
    {
        if (bucket < 8)
        {
            return bucket + 1;
        }

        var log = bucket / 8;
        var mantissa = bucket % 8;
        return (9L + mantissa) << (log - 3);
    }
}
