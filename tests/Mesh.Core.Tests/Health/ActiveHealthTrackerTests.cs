using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;

namespace Mesh.Tests.Health;

/// <summary>Active health bookkeeping alone: streaks, thresholds and what changes at them.</summary>
public sealed class ActiveHealthTrackerTests
{
    private static readonly SlowStartSettings Ramp = new(10_000, 0.1, 1, 1000);
    private static readonly HealthCheckOptions Thresholds = new() { UnhealthyThreshold = 2, HealthyThreshold = 3 };

    private static EndpointState Endpoint() => new(new MeshEndpoint("http://10.0.0.1:80"));

    [Fact]
    public void UnhealthyThreshold_failures_in_a_row_make_it_unhealthy_with_the_last_detail()
    {
        var e = Endpoint();

        var first = ActiveHealthTracker.Record(e, healthy: false, "GET /healthz returned 503", Thresholds, 1, Ramp);
        var second = ActiveHealthTracker.Record(e, healthy: false, "GET /healthz returned 500", Thresholds, 2, Ramp);

        Assert.Equal((ActiveHealthChange.None, ActiveHealthChange.BecameUnhealthy), (first, second));
        Assert.Equal(ActiveHealth.Unhealthy, e.ActiveHealth);
        Assert.False(e.IsRoutable);
        Assert.Equal(HealthReasonKind.FailedHealthChecks, e.Reason!.Kind);
        Assert.Equal("failed 2 health check(s) in a row: GET /healthz returned 500", e.Reason.Text);
    }

    [Fact]
    public void A_pass_between_failures_restarts_the_streak()
    {
        var e = Endpoint();
        ActiveHealthTracker.Record(e, false, "x", Thresholds, 1, Ramp);
        ActiveHealthTracker.Record(e, true, "ok", Thresholds, 2, Ramp);

        Assert.Equal(ActiveHealthChange.None, ActiveHealthTracker.Record(e, false, "x", Thresholds, 3, Ramp));
        Assert.True(e.IsRoutable);
    }

    [Fact]
    public void HealthyThreshold_passes_bring_it_back_ramping_from_that_moment()
    {
        var e = Endpoint();
        ActiveHealthTracker.Record(e, false, "x", Thresholds, 1, Ramp);
        ActiveHealthTracker.Record(e, false, "x", Thresholds, 2, Ramp);

        var changes = new[] { 3L, 4L, 5L }.Select(now => ActiveHealthTracker.Record(e, true, "ok", Thresholds, now, Ramp)).ToList();

        Assert.Equal([ActiveHealthChange.None, ActiveHealthChange.None, ActiveHealthChange.BecameHealthy], changes);
        Assert.True(e.IsRoutable);
        Assert.Null(e.Reason);
        Assert.Equal(5, e.SlowStartBegin);
    }

    [Fact]
    public void Resetting_releases_unhealthy_endpoints_and_clears_their_reason()
    {
        var held = Endpoint();
        ActiveHealthTracker.Record(held, false, "x", Thresholds, 1, Ramp);
        ActiveHealthTracker.Record(held, false, "x", Thresholds, 2, Ramp);
        var fine = new EndpointState(new MeshEndpoint("http://10.0.0.2:80"));

        Assert.True(ActiveHealthTracker.Reset([held, fine]));
        Assert.True(held.IsRoutable);
        Assert.Null(held.Reason);
        Assert.False(ActiveHealthTracker.Reset([fine]));
    }
}
