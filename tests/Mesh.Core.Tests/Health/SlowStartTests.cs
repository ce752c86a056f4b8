using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;

namespace Mesh.Tests.Health;

/// <summary>Slow start's weight factor (Envoy's formula) and the public health derived from state, both pure.</summary>
public sealed class SlowStartTests
{
    private static readonly SlowStartSettings Linear = new(WindowTicks: 10_000, MinFactor: 0.1, Aggression: 1, SecondTicks: 1000);

    [Theory]
    [InlineData(0, 0.1)]        // the minimum at the start
    [InlineData(500, 0.1)]      // 5% of the window is still under the 10% floor
    [InlineData(5_000, 0.5)]
    [InlineData(9_000, 0.9)]
    [InlineData(10_000, 1.0)]   // the ramp is over
    [InlineData(50_000, 1.0)]
    public void The_factor_follows_max_of_the_minimum_and_the_elapsed_share_of_the_window(long elapsed, double expected)
    {
        Assert.Equal(expected, SlowStart.Factor(begin: 1_000, now: 1_000 + elapsed, Linear), precision: 9);
    }

    [Fact]
    public void A_higher_aggression_ramps_faster_at_first()
    {
        var aggressive = Linear with { Aggression = 2 };

        Assert.Equal(Math.Sqrt(0.25), SlowStart.Factor(1, 1 + 2_500, aggressive), precision: 9);
    }

    [Fact]
    public void Not_ramping_or_slow_start_off_means_full_weight()
    {
        Assert.Equal(1.0, SlowStart.Factor(begin: 0, now: 5, Linear));
        Assert.Equal(1.0, SlowStart.Factor(begin: 1, now: 5, Linear with { WindowTicks = 0 }));
    }

    [Fact]
    public void Reading_health_and_factor_never_changes_the_endpoint()
    {
        var e = new EndpointState(new MeshEndpoint("http://10.0.0.1:80")) { SlowStartBegin = 1_000 };

        var health = EndpointHealth.Of(e, now: 100_000, Linear);
        var factor = SlowStart.Factor(e, now: 100_000, Linear);

        Assert.Equal((MeshEndpointHealth.Healthy, 1.0), (health, factor));
        Assert.Equal(1_000, e.SlowStartBegin); // the old reader cleared it without the lock: a data race
    }

    [Fact]
    public void Public_health_ranks_ejected_then_unhealthy_then_probing_then_slow_start()
    {
        var e = new EndpointState(new MeshEndpoint("http://10.0.0.1:80")) { SlowStartBegin = 1 };
        Assert.Equal(MeshEndpointHealth.SlowStart, EndpointHealth.Of(e, 2, Linear));
        e.Status = EndpointStatus.Probing;
        Assert.Equal(MeshEndpointHealth.Probing, EndpointHealth.Of(e, 2, Linear));
        e.ActiveHealth = ActiveHealth.Unhealthy;
        Assert.Equal(MeshEndpointHealth.Unhealthy, EndpointHealth.Of(e, 2, Linear));
        e.Status = EndpointStatus.Ejected;
        Assert.Equal(MeshEndpointHealth.Ejected, EndpointHealth.Of(e, 2, Linear));
    }
}
