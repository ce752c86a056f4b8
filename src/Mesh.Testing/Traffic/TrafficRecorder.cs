using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using HdrHistogram;

namespace Mesh.Testing;

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

    /// <summary>Successful requests that <paramref name="replica"/> answered so far.</summary>
    /// <param name="replica">The replica id (as <see cref="TrafficOptions.IdentifyReplica"/> names it).</param>
    public long CountOf(string replica)
    {
        ArgumentNullException.ThrowIfNull(replica);
        return _replicas.TryGetValue(replica, out var series) ? series.Total.TotalCount : 0;
    }

    /// <summary>Records a failure described by text.</summary>
    /// <param name="replica">The replica that answered, if any.</param>
    /// <param name="reason">What went wrong.</param>
    public void RecordFailure(string? replica, string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        Record(new TrafficFailure(_time.GetUtcNow(), replica, reason));
    }

    /// <summary>Records an error response.</summary>
    /// <param name="replica">The replica that answered, if known.</param>
    /// <param name="statusCode">The response's status.</param>
    /// <param name="reasonPhrase">The response's reason phrase, if any.</param>
    public void RecordFailure(string? replica, HttpStatusCode statusCode, string? reasonPhrase)
    {
        var reason = string.IsNullOrEmpty(reasonPhrase)
            ? string.Create(CultureInfo.InvariantCulture, $"HTTP {(int)statusCode}")
            : string.Create(CultureInfo.InvariantCulture, $"HTTP {(int)statusCode} {reasonPhrase}");
        Record(new TrafficFailure(_time.GetUtcNow(), replica, reason, statusCode: statusCode));
    }

    /// <summary>Records a request that threw; the failure keeps the exception.</summary>
    /// <param name="replica">The replica involved, if known.</param>
    /// <param name="exception">What the request threw.</param>
    public void RecordFailure(string? replica, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Record(new TrafficFailure(_time.GetUtcNow(), replica, $"{exception.GetType().Name}: {exception.Message}", exception: exception));
    }

    private void Record(TrafficFailure failure)
    {
        Interlocked.Increment(ref _failed);
        Interlocked.Increment(ref _failedInWindow);
        if (_failures.Count < MaxFailuresKept)
        {
            _failures.Enqueue(failure);
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
