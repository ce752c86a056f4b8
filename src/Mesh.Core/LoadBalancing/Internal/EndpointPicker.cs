using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>
/// Picks one endpoint from a fixed, non-empty set. A picker is immutable apart from its own counters and is
/// rebuilt whenever the set, the weights or the health of the service change (like grpc-dotnet's SubchannelPicker),
/// so <see cref="Pick"/> does only the per-request work: no locks, no allocations.
/// </summary>
internal abstract class EndpointPicker
{
    protected EndpointPicker(EndpointState[] endpoints)
    {
        Endpoints = endpoints;
    }

    /// <summary>The endpoints this picker chooses from (never empty).</summary>
    public EndpointState[] Endpoints { get; }

    /// <summary>Chooses an endpoint. A later <see cref="PickContext.Attempt"/> should tend to choose differently.</summary>
    public abstract EndpointState Pick(in PickContext context);
}

/// <summary>What the pickers need besides the endpoints and weights.</summary>
/// <param name="DecayTicks">τ of the RTT estimate (<c>PeakEwma:DecayTime</c>), in TimeProvider ticks.</param>
/// <param name="DefaultRttTicks">The least RTT a failed attempt counts as (<c>PeakEwma:DefaultRtt</c>), in TimeProvider ticks.</param>
/// <param name="Random">The pickers' randomness; <see langword="null"/> for <see cref="RandomSource.Shared"/>. Tests pass
/// <see cref="RandomSource.Seeded"/> or a scripted source.</param>
internal readonly record struct PickerSettings(double DecayTicks, double DefaultRttTicks, RandomSource? Random = null)
{
    public RandomSource RandomOrShared => Random ?? RandomSource.Shared;

    /// <summary>Latency differences below this are noise, not a slower endpoint: <c>PeakEwma:DefaultRtt</c> ×
    /// <see cref="PeakEwmaPicker.JitterFloorOfDefaultRtt"/> (1 ms of the default 30 ms), in TimeProvider ticks. PeakEwma
    /// adds it to both RTTs it compares; an answer is late for the tail rate only when it is this much above the
    /// endpoint's typical RTT (<see cref="Endpoints.Internal.EndpointState.ObserveTail"/>).</summary>
    public double JitterTicks => DefaultRttTicks * PeakEwmaPicker.JitterFloorOfDefaultRtt;
}

/// <summary>Creates the picker for a balancer kind.</summary>
internal static class EndpointPickerFactory
{
    /// <summary>Creates the picker for <paramref name="kind"/> over <paramref name="endpoints"/>.</summary>
    /// <param name="kind">The balancer.</param>
    /// <param name="endpoints">The candidates (not empty); the picker keeps the array.</param>
    /// <param name="weights">One effective weight per endpoint (configured weight × slow-start factor), all positive.</param>
    /// <param name="settings">Timing and randomness.</param>
    public static EndpointPicker Create(LoadBalancerKind kind, EndpointState[] endpoints, double[] weights, PickerSettings settings)
    {
        if (endpoints.Length == 1)
        {
            return new SinglePicker(endpoints);
        }

        var random = settings.RandomOrShared;
        return kind switch
        {
            LoadBalancerKind.RoundRobin => new RoundRobinPicker(endpoints, weights, random),
            LoadBalancerKind.WeightedRoundRobin => new WeightedRoundRobinPicker(endpoints, weights, random),
            LoadBalancerKind.Random => new RandomPicker(endpoints, weights, random),
            LoadBalancerKind.LeastRequest => new LeastRequestPicker(endpoints, weights, random),
            LoadBalancerKind.ConsistentHash => new MaglevPicker(endpoints, weights, random),
            _ => new PeakEwmaPicker(endpoints, weights, settings),
        };
    }
}

/// <summary>The only endpoint.</summary>
internal sealed class SinglePicker(EndpointState[] endpoints) : EndpointPicker(endpoints)
{
    private readonly EndpointState _only = endpoints[0];

    public override EndpointState Pick(in PickContext context) => _only;
}
