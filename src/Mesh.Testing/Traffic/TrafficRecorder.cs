using System.Collections.Concurrent;
using HdrHistogram;

namespace Mesh.Testing;

/// <summary>Latency percentiles.</summary>
/// <param name="Count">Samples.</param>
/// <param name="P50">Median.</param>
/// <param name="P90">90th percentile.</param>
/// <param name="P99">99th percentile.</param>
/// <param name="P999">99.9th percentile.</param>
/// <param name="Max">Largest sample.</param>
public sealed record LatencySummary(long Count, TimeSpan P50, TimeSpan P90, TimeSpan P99, TimeSpan P999, TimeSpan Max)
{
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

/// <summary>A request that failed: when, where (if known) and why.</summary>
/// <param name="At">When it ended.</param>
/// <param name="Replica">The replica that answered, when the failure was an error response.</param>
/// <param name="Reason">The status or exception.</param>
public sealed record TrafficFailure(DateTimeOffset At, string? Replica, string Reason);

/// <summary>Counts and latencies of one replica over a window or a run.</summary>
/// <param name="Replica">The replica id.</param>
/// <param name="Requests">Successful requests it answered.</param>
/// <param name="Latency">Their latencies.</param>
public sealed record ReplicaTraffic(string Replica, long Requests, LatencySummary Latency);

/// <summary>What happened since the previous window (for live views).</summary>
/// <param name="Elapsed">The window's length.</param>
/// <param name="Replicas">Per replica.</param>
/// <param name="Failures">Failed requests in the window.</param>
public sealed record TrafficWindow(TimeSpan Elapsed, IReadOnlyList<ReplicaTraffic> Replicas, long Failures);

/// <summary>
/// Thread-safe accumulation of request outcomes, for a whole run and in windows (live views poll
/// <see cref="TakeWindow"/>). Latencies are kept in HdrHistograms (microseconds, 3 significant digits, up to 1 hour).
/// </summary>
public sealed class TrafficRecorder
{
    private const long MaxMicroseconds = 3_600_000_000;
    private const int MaxFailuresKept = 1000;
    private readonly ConcurrentDictionary<string, Series> _replicas = new(StringComparer.Ordinal);
    private readonly LongConcurrentHistogram _all = NewHistogram();
    private readonly ConcurrentQueue<TrafficFailure> _failures = new();
    private readonly TimeProvider _time;
    private long _failed;
    private long _failedInWindow;
    private long _windowStart;

    /// <summary>Creates a recorder.</summary>
    /// <param name="timeProvider">The clock (default: system).</param>
    public TrafficRecorder(TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _windowStart = _time.GetTimestamp();
    }

    /// <summary>Failed requests so far.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Successful requests so far.</summary>
    public long Succeeded => _all.TotalCount;

    /// <summary>Records a success.</summary>
    public void RecordSuccess(string? replica, TimeSpan latency)
    {
        var us = Math.Clamp(latency.Ticks / 10, 1, MaxMicroseconds);
        _all.RecordValue(us);
        var series = _replicas.GetOrAdd(replica ?? "(unknown)", static _ => new Series());
        series.Total.RecordValue(us);
        lock (series)
        {
            series.Window.RecordValue(us);
        }
    }

    /// <summary>Records a failure.</summary>
    public void RecordFailure(string? replica, string reason)
    {
        Interlocked.Increment(ref _failed);
        Interlocked.Increment(ref _failedInWindow);
        if (_failures.Count < MaxFailuresKept)
        {
            _failures.Enqueue(new TrafficFailure(_time.GetUtcNow(), replica, reason));
        }
    }

    /// <summary>Returns what happened since the previous call and starts a new window.</summary>
    public TrafficWindow TakeWindow()
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(Interlocked.Exchange(ref _windowStart, now), now);
        var replicas = new List<ReplicaTraffic>();
        foreach (var (name, series) in _replicas.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            lock (series)
            {
                replicas.Add(new ReplicaTraffic(name, series.Window.TotalCount, LatencySummary.From(series.Window)));
                series.Window.Reset();
            }
        }

        return new TrafficWindow(elapsed, replicas, Interlocked.Exchange(ref _failedInWindow, 0));
    }

    internal TrafficReport CreateReport(TimeSpan elapsed) => new(
        elapsed,
        [.. _replicas.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new ReplicaTraffic(p.Key, p.Value.Total.TotalCount, LatencySummary.From(p.Value.Total)))],
        LatencySummary.From(_all),
        Failed,
        [.. _failures]);

    private static LongConcurrentHistogram NewHistogram() => new(1, MaxMicroseconds, 3);

    private sealed class Series
    {
        public LongConcurrentHistogram Total { get; } = NewHistogram();

        public LongHistogram Window { get; } = new(1, MaxMicroseconds, 3);
    }
}
