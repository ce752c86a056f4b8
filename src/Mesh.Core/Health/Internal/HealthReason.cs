namespace Mesh.Health.Internal;

/// <summary>Why an endpoint is not plainly healthy. Code decides on <see cref="HealthReason.Kind"/>; the text is only
/// shown (snapshots, logs, events).</summary>
internal enum HealthReasonKind
{
    /// <summary>Ejected after <c>ConsecutiveFailures</c> counted failures in a row.</summary>
    ConsecutiveFailures,

    /// <summary>Ejected by the failure-rate rule (<c>FailureRateThreshold</c>).</summary>
    FailureRate,

    /// <summary>Ejected again because the probe after an ejection failed.</summary>
    ProbeFailed,

    /// <summary>Meets an ejection rule, but <c>MaxEjectionPercent</c> is reached: it keeps receiving traffic.</summary>
    EjectionLimited,

    /// <summary>Its ejection ended; the next request decides.</summary>
    Probing,

    /// <summary>Failed <c>UnhealthyThreshold</c> active health checks in a row.</summary>
    FailedHealthChecks,
}

/// <summary>A reason with its kind and its display text.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Text">A sentence for people, for example "5 consecutive failures (last: connection refused)".</param>
internal sealed record HealthReason(HealthReasonKind Kind, string Text)
{
    public override string ToString() => Text;
}
