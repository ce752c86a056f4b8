using Mesh.Endpoints.Internal;
using Mesh.Services.Internal;

namespace Mesh.Health.Internal;

/// <summary>
/// Slow start (Envoy's <c>slow_start_config</c>): an endpoint that joins a running service or returns to it gets
/// weight × max(<c>MinWeightPercent</c>%, (t / <c>Window</c>)^(1 / <c>Aggression</c>)) for t in [0, Window).
/// Pure functions of the ramp's start and the clock; reading never changes state.
/// </summary>
internal static class SlowStart
{
    /// <summary>The share of its weight an endpoint whose ramp began at <paramref name="begin"/> gets at <paramref name="now"/> (1 when not ramping).</summary>
    public static double Factor(long begin, long now, in SlowStartSettings settings)
    {
        if (begin == 0 || settings.WindowTicks <= 0)
        {
            return 1.0;
        }

        var t = (double)(now - begin) / settings.WindowTicks;
        if (t >= 1.0)
        {
            return 1.0;
        }

        return Math.Max(settings.MinFactor, Math.Pow(Math.Max(t, 0), 1.0 / settings.Aggression));
    }

    /// <summary>The factor of <paramref name="endpoint"/> now.</summary>
    public static double Factor(EndpointState endpoint, long now, in SlowStartSettings settings) => Factor(endpoint.SlowStartBegin, now, settings);

    /// <summary>When a ramp begins now: <paramref name="now"/>, or 0 when slow start is off.</summary>
    public static long Begin(long now, in SlowStartSettings settings) => settings.WindowTicks > 0 ? now : 0;
}

/// <summary>The public health of an endpoint, derived from its state (what <see cref="MeshMonitor"/> and metrics show).</summary>
internal static class EndpointHealth
{
    public static MeshEndpointHealth Of(EndpointState endpoint, long now, in SlowStartSettings slowStart) =>
        endpoint.Status == EndpointStatus.Ejected ? MeshEndpointHealth.Ejected
        : endpoint.ActiveHealth == ActiveHealth.Unhealthy ? MeshEndpointHealth.Unhealthy
        : endpoint.Status == EndpointStatus.Probing ? MeshEndpointHealth.Probing
        : SlowStart.Factor(endpoint, now, slowStart) < 1.0 ? MeshEndpointHealth.SlowStart
        : MeshEndpointHealth.Healthy;
}
