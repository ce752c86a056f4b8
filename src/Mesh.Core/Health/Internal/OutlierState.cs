namespace Mesh.Health.Internal;

/// <summary>
/// One endpoint's outlier-detection counters. <see cref="ConsecutiveFailures"/> and the failure-rate window are updated
/// on every attempt (the first with <see cref="Interlocked"/>, the second under its own small lock); the ejection
/// history is written only under the owning service's lock by <see cref="OutlierDetector"/>.
/// </summary>
internal sealed class OutlierState
{
    private readonly Lock _rateLock = new();
    private FailureRateWindow _rate;

    /// <summary>Counted failures in a row (Interlocked).</summary>
    public int ConsecutiveFailures;

    /// <summary>Ejections without a healthy period in between (service lock).</summary>
    public int EjectionsInARow;

    /// <summary>When the current ejection ends (timestamp; service lock).</summary>
    public long EjectedUntil;

    /// <summary>When the endpoint last returned to service (timestamp), 0 if never ejected (service lock).</summary>
    public long ReturnedAt;

    /// <summary>The last error that counted as a failure.</summary>
    public volatile string? LastFailure;

    /// <summary>Counts one outcome in a two-bucket sliding window of <paramref name="halfWindowTicks"/> per bucket and
    /// returns the requests and failures of both buckets.</summary>
    public (int Requests, int Failures) CountRate(long now, long halfWindowTicks, bool failed)
    {
        var epoch = now / halfWindowTicks;
        lock (_rateLock)
        {
            ref var w = ref _rate;
            if (w.Epoch != epoch)
            {
                var adjacent = w.Epoch == epoch - 1;
                w.PreviousRequests = adjacent ? w.Requests : 0;
                w.PreviousFailures = adjacent ? w.Failures : 0;
                w.Requests = 0;
                w.Failures = 0;
                w.Epoch = epoch;
            }

            w.Requests++;
            if (failed)
            {
                w.Failures++;
            }

            return (w.Requests + w.PreviousRequests, w.Failures + w.PreviousFailures);
        }
    }

    /// <summary>Forgets the failure-rate window (after an ejection).</summary>
    public void ResetRate()
    {
        lock (_rateLock)
        {
            _rate = default;
        }
    }

    private struct FailureRateWindow
    {
        public long Epoch;
        public int Requests;
        public int Failures;
        public int PreviousRequests;
        public int PreviousFailures;
    }
}

/// <summary>Result of active health checks.</summary>
internal enum ActiveHealth
{
    /// <summary>Not checked (yet), or checks are off: treated as healthy.</summary>
    Unknown = 0,

    /// <summary>Passed its checks.</summary>
    Healthy,

    /// <summary>Failed <c>UnhealthyThreshold</c> checks in a row.</summary>
    Unhealthy,
}

/// <summary>One endpoint's active health-check streaks (written under the owning service's lock).</summary>
internal sealed class ActiveCheckState
{
    /// <summary>Failed checks in a row.</summary>
    public int Failures;

    /// <summary>Passed checks in a row.</summary>
    public int Successes;
}
