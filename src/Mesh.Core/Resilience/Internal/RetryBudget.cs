namespace Mesh.Resilience.Internal;

/// <summary>
/// A retry budget (Linkerd, Finagle): over a sliding window, retries may be at most <c>RetryRatio</c> × requests +
/// <c>MinRetriesPerSecond</c> × window seconds. Counted in ten buckets of a tenth of the window each; lock-free and
/// allocation-free (approximate at bucket boundaries, which a budget can afford).
/// </summary>
internal sealed class RetryBudget
{
    private const int BucketCount = 10;
    private readonly long[] _epochs = new long[BucketCount];
    private readonly int[] _requests = new int[BucketCount];
    private readonly int[] _retries = new int[BucketCount];
    private readonly long _bucketTicks;
    private readonly double _ratio;
    private readonly double _floor;
    private readonly long _logInterval;
    private long _refusedSinceLog;
    private long _lastLog = long.MinValue / 2;

    public RetryBudget(RetryBudgetOptions options, long timestampFrequency)
        : this(options.RetryRatio, options.MinRetriesPerSecond, options.Window, timestampFrequency)
    {
    }

    /// <summary>A budget of <paramref name="ratio"/> × requests + <paramref name="minPerSecond"/> × window seconds
    /// over <paramref name="window"/>; a negative ratio turns it off (everything is allowed).</summary>
    public RetryBudget(double ratio, double minPerSecond, TimeSpan window, long timestampFrequency)
    {
        Enabled = ratio >= 0;
        _ratio = ratio;
        _floor = minPerSecond * window.TotalSeconds;
        _bucketTicks = Math.Max(1, (long)(window.TotalSeconds * timestampFrequency / BucketCount));
        _logInterval = timestampFrequency;
        Array.Fill(_epochs, long.MinValue / 2);
    }

    public bool Enabled { get; }

    public double Ratio => _ratio;

    /// <summary>Counts a first attempt.</summary>
    public void OnRequest(long now)
    {
        if (!Enabled)
        {
            return;
        }

        var i = Roll(now);
        Interlocked.Increment(ref _requests[i]);
    }

    /// <summary>Whether one more retry would fit the budget now (withdraws nothing).</summary>
    public bool CanRetry(long now)
    {
        if (!Enabled)
        {
            return true;
        }

        var (requests, retries) = Totals(now);
        return retries < (_ratio * requests) + _floor;
    }

    private (long Requests, long Retries) Totals(long now)
    {
        var epoch = now / _bucketTicks;
        long requests = 0, retries = 0;
        for (var b = 0; b < BucketCount; b++)
        {
            if (epoch - Volatile.Read(ref _epochs[b]) < BucketCount)
            {
                requests += Volatile.Read(ref _requests[b]);
                retries += Volatile.Read(ref _retries[b]);
            }
        }

        return (requests, retries);
    }

    /// <summary>Withdraws one retry from the budget; false when it is spent.</summary>
    public bool TryRetry(long now)
    {
        if (!Enabled)
        {
            return true;
        }

        var i = Roll(now);
        var epoch = now / _bucketTicks;
        long requests = 0, retries = 0;
        for (var b = 0; b < BucketCount; b++)
        {
            if (epoch - Volatile.Read(ref _epochs[b]) < BucketCount)
            {
                requests += Volatile.Read(ref _requests[b]);
                retries += Volatile.Read(ref _retries[b]);
            }
        }

        if (retries >= (_ratio * requests) + _floor)
        {
            return false;
        }

        Interlocked.Increment(ref _retries[i]);
        return true;
    }

    /// <summary>Counts a refusal and says how many to log now: all refusals since the last log line, at most one line
    /// per second (0: not now). Under overload refusals come by the hundred per second; one line each would make
    /// logging part of the overload.</summary>
    public long RefusalsToLog(long now)
    {
        Interlocked.Increment(ref _refusedSinceLog);
        var last = Volatile.Read(ref _lastLog);
        if (now - last < _logInterval || Interlocked.CompareExchange(ref _lastLog, now, last) != last)
        {
            return 0;
        }

        return Interlocked.Exchange(ref _refusedSinceLog, 0);
    }

    private int Roll(long now)
    {
        var epoch = now / _bucketTicks;
        var i = (int)(epoch % BucketCount);
        var seen = Volatile.Read(ref _epochs[i]);
        if (seen != epoch && Interlocked.CompareExchange(ref _epochs[i], epoch, seen) == seen)
        {
            Volatile.Write(ref _requests[i], 0);
            Volatile.Write(ref _retries[i], 0);
        }

        return i;
    }
}
