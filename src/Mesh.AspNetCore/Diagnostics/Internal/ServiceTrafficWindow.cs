namespace Mesh.Diagnostics.Internal;

/// <summary>What a <see cref="ServiceTrafficWindow"/> saw over its window.</summary>
/// <param name="Requests">Attempts recorded in the window.</param>
/// <param name="Errors">Attempts that failed (connection failure, timeout, 5xx; cancellations are not errors).</param>
/// <param name="Seconds">The seconds the window covers (less than its length while the app is young).</param>
/// <param name="P50">The median duration in seconds, or <see langword="null"/> without attempts.</param>
/// <param name="P99">The 99th percentile in seconds, or <see langword="null"/> without attempts.</param>
/// <param name="PerSecond">Attempts in each second of the window, oldest first.</param>
/// <param name="ErrorsPerSecond">Failed attempts in each second of the window, oldest first.</param>
internal sealed record TrafficSummary(long Requests, long Errors, int Seconds, double? P50, double? P99, int[] PerSecond, int[] ErrorsPerSecond);

/// <summary>
/// The attempts of one service over the last minute, fed by the mesh's own <c>mesh.client.request.duration</c>
/// histogram (through a <c>MeterListener</c>): one slot per second, each with a count per duration bucket. Recording takes
/// no lock and allocates nothing (a slot is cleared, under its own lock, once when a new second first uses it); the
/// buckets are log-spaced, 20 per decade from 1 µs to 100 s, so a percentile is within about 6% of the true value.
/// Counts are approximate at the edge of a second (a recorder late by a whole minute may land in a cleared slot).
/// </summary>
internal sealed class ServiceTrafficWindow
{
    /// <summary>The window's length in seconds.</summary>
    public const int Length = 60;

    private const int BucketsPerDecade = 20;
    private const double SmallestSeconds = 1e-6;
    private const int BucketCount = (8 * BucketsPerDecade) + 2; // [0] below 1 µs, [1..160] 1 µs to 100 s, [161] above

    private readonly Slot[] _slots = new Slot[Length];
    private readonly long _firstSecond;

    public ServiceTrafficWindow(long firstSecond)
    {
        _firstSecond = firstSecond;
        for (var i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new Slot();
        }
    }

    /// <summary>Records one attempt that ended in <paramref name="second"/> (seconds on the app's clock).</summary>
    public void Record(long second, double durationSeconds, bool error)
    {
        var slot = _slots[second % Length];
        var current = Volatile.Read(ref slot.Second);
        if (current != second)
        {
            if (current > second || !slot.Roll(second))
            {
                return; // a straggler from a minute ago
            }
        }

        Interlocked.Increment(ref slot.Buckets[Bucket(durationSeconds)]);
        Interlocked.Increment(ref slot.Requests);
        if (error)
        {
            Interlocked.Increment(ref slot.Errors);
        }
    }

    /// <summary>Sums the seconds of the window that ends with <paramref name="now"/> (inclusive).</summary>
    public TrafficSummary Summarize(long now)
    {
        var seconds = (int)Math.Clamp(now - _firstSecond + 1, 1, Length);
        var perSecond = new int[Length];
        var errorsPerSecond = new int[Length];
        var buckets = new long[BucketCount];
        long requests = 0, errors = 0;
        for (var i = 0; i < Length; i++)
        {
            var second = now - Length + 1 + i;
            if (second < 0)
            {
                continue;
            }

            var slot = _slots[second % Length];
            if (Volatile.Read(ref slot.Second) != second)
            {
                continue;
            }

            perSecond[i] = Volatile.Read(ref slot.Requests);
            errorsPerSecond[i] = Volatile.Read(ref slot.Errors);
            requests += perSecond[i];
            errors += errorsPerSecond[i];
            for (var b = 0; b < BucketCount; b++)
            {
                buckets[b] += Volatile.Read(ref slot.Buckets[b]);
            }
        }

        return new TrafficSummary(requests, errors, seconds, Percentile(buckets, 0.50), Percentile(buckets, 0.99), perSecond, errorsPerSecond);
    }

    /// <summary>The bucket of a duration: 0 below 1 µs, then 20 per decade.</summary>
    internal static int Bucket(double seconds)
    {
        if (!(seconds > SmallestSeconds))
        {
            return 0;
        }

        var position = Math.Log10(seconds / SmallestSeconds) * BucketsPerDecade; // compared before the cast: infinity does not fit an int
        return position >= BucketCount - 2 ? BucketCount - 1 : 1 + (int)position;
    }

    /// <summary>The value a bucket stands for: the geometric middle of its bounds.</summary>
    internal static double ValueOf(int bucket) =>
        bucket == 0 ? SmallestSeconds : SmallestSeconds * Math.Pow(10, (bucket - 0.5) / BucketsPerDecade);

    /// <summary>The <paramref name="quantile"/> of the counted durations (nearest rank), or null without any.</summary>
    internal static double? Percentile(long[] buckets, double quantile)
    {
        long total = 0;
        foreach (var count in buckets)
        {
            total += count;
        }

        if (total == 0)
        {
            return null;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(quantile * total));
        long seen = 0;
        for (var b = 0; b < buckets.Length; b++)
        {
            seen += buckets[b];
            if (seen >= rank)
            {
                return ValueOf(b);
            }
        }

        return ValueOf(buckets.Length - 1);
    }

    private sealed class Slot
    {
        private readonly Lock _lock = new();
        public readonly int[] Buckets = new int[BucketCount];
        public long Second = -1;
        public int Requests;
        public int Errors;

        /// <summary>Clears the slot for <paramref name="second"/>; false when a later second took it meanwhile.</summary>
        public bool Roll(long second)
        {
            lock (_lock)
            {
                if (Second == second)
                {
                    return true;
                }

                if (Second > second)
                {
                    return false;
                }

                Array.Clear(Buckets);
                Requests = 0;
                Errors = 0;
                Volatile.Write(ref Second, second);
                return true;
            }
        }
    }
}
