using System.Globalization;
using Mesh.Endpoints.Internal;
using Mesh.Services.Internal;

namespace Mesh.Health.Internal;

/// <summary>What an attempt's outcome means for outlier detection, found without the service lock.</summary>
internal enum OutlierSignalKind
{
    /// <summary>Nothing to decide.</summary>
    None,

    /// <summary>The probe after an ejection succeeded: the endpoint may return.</summary>
    ProbeSucceeded,

    /// <summary>The probe after an ejection failed: eject again.</summary>
    ProbeFailed,

    /// <summary><c>ConsecutiveFailures</c> counted failures in a row.</summary>
    ConsecutiveFailures,

    /// <summary>The failure-rate rule fired.</summary>
    FailureRate,

    /// <summary>A success of an endpoint held back only by <c>MaxEjectionPercent</c>: it recovered.</summary>
    Recovered,
}

/// <summary>A signal with the facts its decision and reason need.</summary>
internal readonly record struct OutlierSignal(OutlierSignalKind Kind, string? Failure = null, int Count = 0, int Of = 0)
{
    public static OutlierSignal None => default;
}

/// <summary>What the service does after a decision.</summary>
internal enum OutlierAction
{
    /// <summary>Nothing changed that others must know about.</summary>
    None,

    /// <summary>The endpoint was ejected (rebuild the picker, schedule its end, tell).</summary>
    Ejected,

    /// <summary>The endpoint meets an ejection rule but <c>MaxEjectionPercent</c> is reached; it keeps its traffic.</summary>
    Limited,

    /// <summary>The endpoint returned to service after its probe succeeded.</summary>
    Returned,
}

/// <summary>A decision of <see cref="OutlierDetector.Decide"/>.</summary>
internal readonly record struct OutlierDecision(OutlierAction Action, HealthReason? Reason = null, TimeSpan Duration = default, int EjectionsInARow = 0, int Ejected = 0, int Total = 0, bool FirstTime = false);

/// <summary>
/// Passive outlier detection, after Envoy's (<c>outlier_detection</c>: <c>consecutive_5xx</c>, <c>failure_percentage</c>,
/// <c>base_ejection_time</c> × ejections in a row capped by <c>max_ejection_time</c>, <c>max_ejection_percent</c> with at
/// least one host) and Linkerd's/Finagle's single probe after an ejection. Two steps, so the per-request path takes no
/// lock: <see cref="Observe"/> counts an outcome (lock-free) and reports a signal when something must be decided;
/// <see cref="Decide"/> runs under the service lock, applies the decision to the endpoint's state and says what
/// happened. Stateless: the counters live in each endpoint's <see cref="OutlierState"/>.
/// </summary>
internal static class OutlierDetector
{
    /// <summary>Counts one attempt's outcome. Lock-free; allocates nothing.</summary>
    public static OutlierSignal Observe(EndpointState endpoint, RequestOutcome outcome, bool isProbe, string? failure, long now, in OutlierSettings settings)
    {
        var counted = IsCounted(outcome, settings.FailureKinds);
        if (isProbe)
        {
            return outcome == RequestOutcome.Success ? new OutlierSignal(OutlierSignalKind.ProbeSucceeded)
                : counted ? new OutlierSignal(OutlierSignalKind.ProbeFailed, failure)
                : OutlierSignal.None;
        }

        var state = endpoint.Outlier;
        if (settings.FailureRateThreshold > 0 && (outcome == RequestOutcome.Success || counted))
        {
            var (requests, failures) = state.CountRate(now, settings.FailureRateHalfWindowTicks, counted);
            if (counted && requests >= settings.FailureRateMinimumRequests && failures * 100 >= settings.FailureRateThreshold * requests &&
                endpoint.Status == EndpointStatus.Active)
            {
                state.LastFailure = failure;
                return new OutlierSignal(OutlierSignalKind.FailureRate, failure, failures, requests);
            }
        }

        if (outcome == RequestOutcome.Success)
        {
            if (Volatile.Read(ref state.ConsecutiveFailures) != 0)
            {
                Volatile.Write(ref state.ConsecutiveFailures, 0);
            }

            return endpoint.Reason is { Kind: HealthReasonKind.EjectionLimited } && endpoint.Status == EndpointStatus.Active
                ? new OutlierSignal(OutlierSignalKind.Recovered)
                : OutlierSignal.None;
        }

        if (!counted)
        {
            return OutlierSignal.None;
        }

        state.LastFailure = failure;
        var streak = Interlocked.Increment(ref state.ConsecutiveFailures);
        return settings.ConsecutiveFailures > 0 && streak >= settings.ConsecutiveFailures && endpoint.Status == EndpointStatus.Active
            ? new OutlierSignal(OutlierSignalKind.ConsecutiveFailures, failure, streak)
            : OutlierSignal.None;
    }

    /// <summary>Whether an outcome counts as a failure under <paramref name="kinds"/>.</summary>
    public static bool IsCounted(RequestOutcome outcome, OutlierFailureKinds kinds) =>
        outcome != RequestOutcome.Success && (kinds & (OutlierFailureKinds)outcome) != 0;

    /// <summary>Decides on a signal and applies the decision to <paramref name="endpoint"/>. Call under the service lock.</summary>
    /// <param name="endpoint">The endpoint the signal is about.</param>
    /// <param name="signal">The signal from <see cref="Observe"/>.</param>
    /// <param name="all">The service's endpoints (for <c>MaxEjectionPercent</c>).</param>
    /// <param name="now">The current timestamp.</param>
    /// <param name="settings">The outlier settings.</param>
    /// <param name="slowStart">Slow start settings (a returning endpoint ramps up).</param>
    /// <param name="frequency">Timestamp ticks per second.</param>
    public static OutlierDecision Decide(EndpointState endpoint, in OutlierSignal signal, EndpointState[] all, long now, in OutlierSettings settings, in SlowStartSettings slowStart, double frequency)
    {
        if (Array.IndexOf(all, endpoint) < 0)
        {
            return default; // it left the set meanwhile
        }

        switch (signal.Kind)
        {
            case OutlierSignalKind.ProbeSucceeded when endpoint.Status == EndpointStatus.Probing:
                endpoint.Status = EndpointStatus.Active;
                endpoint.Outlier.ReturnedAt = now;
                endpoint.Reason = null;
                endpoint.SlowStartBegin = SlowStart.Begin(now, slowStart);
                Volatile.Write(ref endpoint.Outlier.ConsecutiveFailures, 0);
                return new OutlierDecision(OutlierAction.Returned, new HealthReason(HealthReasonKind.Probing, "probe request succeeded"));

            case OutlierSignalKind.ProbeFailed when endpoint.Status == EndpointStatus.Probing:
                return Eject(endpoint, new HealthReason(HealthReasonKind.ProbeFailed, $"probe failed: {signal.Failure}"), force: true, all, now, settings, frequency);

            case OutlierSignalKind.ConsecutiveFailures when endpoint.Status == EndpointStatus.Active:
                return Eject(endpoint, new HealthReason(HealthReasonKind.ConsecutiveFailures,
                    string.Create(CultureInfo.InvariantCulture, $"{signal.Count} consecutive failures (last: {signal.Failure})")), force: false, all, now, settings, frequency);

            case OutlierSignalKind.FailureRate when endpoint.Status == EndpointStatus.Active:
                endpoint.Outlier.ResetRate();
                return Eject(endpoint, new HealthReason(HealthReasonKind.FailureRate,
                    string.Create(CultureInfo.InvariantCulture, $"{signal.Count} of the last {signal.Of} requests failed (FailureRateThreshold {settings.FailureRateThreshold}%)")), force: false, all, now, settings, frequency);

            case OutlierSignalKind.Recovered when endpoint.Reason is { Kind: HealthReasonKind.EjectionLimited } && endpoint.Status == EndpointStatus.Active:
                endpoint.Reason = null; // it recovered before it could be ejected
                return default;

            default:
                return default;
        }
    }

    private static OutlierDecision Eject(EndpointState endpoint, HealthReason reason, bool force, EndpointState[] all, long now, in OutlierSettings settings, double frequency)
    {
        var state = endpoint.Outlier;
        if (!force)
        {
            var ejected = 0;
            foreach (var e in all)
            {
                if (e.Status != EndpointStatus.Active)
                {
                    ejected++;
                }
            }

            var allowed = settings.MaxEjectionPercent == 0 ? 0 : Math.Max(1, all.Length * settings.MaxEjectionPercent / 100);
            if (ejected >= allowed)
            {
                var first = endpoint.Reason?.Kind != HealthReasonKind.EjectionLimited;
                endpoint.Reason = new HealthReason(HealthReasonKind.EjectionLimited, $"would be ejected ({reason.Text}) but MaxEjectionPercent is reached");
                Volatile.Write(ref state.ConsecutiveFailures, 0);
                return new OutlierDecision(OutlierAction.Limited, reason, Ejected: ejected, Total: all.Length, FirstTime: first);
            }
        }

        if (!force && state.ReturnedAt != 0 && now - state.ReturnedAt > settings.BaseEjectionTicks)
        {
            state.EjectionsInARow = 0; // it served normally for a while since it returned: start over
        }

        state.EjectionsInARow++;
        var duration = TimeSpan.FromTicks(Math.Min(settings.BaseEjectionTime.Ticks * state.EjectionsInARow, settings.MaxEjectionTime.Ticks));
        state.EjectedUntil = now + (long)(duration.TotalSeconds * frequency);
        endpoint.Status = EndpointStatus.Ejected;
        endpoint.SlowStartBegin = 0;
        endpoint.Reason = reason;
        Volatile.Write(ref state.ConsecutiveFailures, 0);
        return new OutlierDecision(OutlierAction.Ejected, reason, duration, state.EjectionsInARow);
    }

    /// <summary>Moves an ejected endpoint whose ejection has ended to probing. Call under the service lock.</summary>
    /// <returns>Whether it moved.</returns>
    public static bool TryBeginProbing(EndpointState endpoint, long now)
    {
        if (endpoint.Status != EndpointStatus.Ejected || endpoint.Outlier.EjectedUntil > now)
        {
            return false;
        }

        endpoint.Status = EndpointStatus.Probing;
        endpoint.Reason = new HealthReason(HealthReasonKind.Probing, "ejection ended; the next request decides whether it returns");
        endpoint.ReleaseProbe();
        return true;
    }
}
