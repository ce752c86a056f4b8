using Mesh.Endpoints.Internal;
using Mesh.Services.Internal;

namespace Mesh.Health.Internal;

/// <summary>What one active check result changed.</summary>
internal enum ActiveHealthChange
{
    /// <summary>Nothing that affects routing.</summary>
    None,

    /// <summary>It failed <c>UnhealthyThreshold</c> checks in a row: no more traffic.</summary>
    BecameUnhealthy,

    /// <summary>It passed <c>HealthyThreshold</c> checks in a row after being unhealthy: traffic again (ramping up).</summary>
    BecameHealthy,
}

/// <summary>
/// Active health bookkeeping (YARP's <c>ConsecutiveFailuresHealthPolicy</c>, Kubernetes' success and failure
/// thresholds): turns each check result into streaks and a state change at the thresholds. Stateless; the streaks
/// live in each endpoint's <see cref="ActiveCheckState"/>. Call under the service lock. The checks themselves run in
/// <see cref="ActiveHealthChecker"/>.
/// </summary>
internal static class ActiveHealthTracker
{
    /// <summary>Records one result and applies the thresholds.</summary>
    public static ActiveHealthChange Record(EndpointState endpoint, bool healthy, string detail, HealthCheckOptions thresholds, long now, in SlowStartSettings slowStart)
    {
        var checks = endpoint.Checks;
        if (healthy)
        {
            checks.Failures = 0;
            checks.Successes++;
            if (endpoint.ActiveHealth == ActiveHealth.Unknown)
            {
                endpoint.ActiveHealth = ActiveHealth.Healthy;
            }
            else if (endpoint.ActiveHealth == ActiveHealth.Unhealthy && checks.Successes >= thresholds.HealthyThreshold)
            {
                endpoint.ActiveHealth = ActiveHealth.Healthy;
                endpoint.Reason = null;
                endpoint.SlowStartBegin = SlowStart.Begin(now, slowStart);
                return ActiveHealthChange.BecameHealthy;
            }

            return ActiveHealthChange.None;
        }

        checks.Successes = 0;
        checks.Failures++;
        if (endpoint.ActiveHealth != ActiveHealth.Unhealthy && checks.Failures >= thresholds.UnhealthyThreshold)
        {
            endpoint.ActiveHealth = ActiveHealth.Unhealthy;
            endpoint.Reason = new HealthReason(HealthReasonKind.FailedHealthChecks, $"failed {checks.Failures} health check(s) in a row: {detail}");
            return ActiveHealthChange.BecameUnhealthy;
        }

        return ActiveHealthChange.None;
    }

    /// <summary>Forgets every result (checks were turned off). Returns whether an endpoint was held back by them.</summary>
    public static bool Reset(EndpointState[] endpoints)
    {
        var released = false;
        foreach (var e in endpoints)
        {
            if (e.ActiveHealth == ActiveHealth.Unhealthy)
            {
                released = true;
                if (e.Reason?.Kind == HealthReasonKind.FailedHealthChecks)
                {
                    e.Reason = null;
                }
            }

            e.ActiveHealth = ActiveHealth.Unknown;
            e.Checks.Failures = 0;
            e.Checks.Successes = 0;
        }

        return released;
    }
}
