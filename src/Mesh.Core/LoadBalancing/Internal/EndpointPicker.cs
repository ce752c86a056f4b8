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

/// <summary>Timing settings the pickers need, in TimeProvider ticks.</summary>
internal readonly record struct PickerSettings(double DecayTicks, double DefaultRttTicks);

/// <summary>Creates the picker for a balancer kind.</summary>
internal static class EndpointPickerFactory
{
    public static EndpointPicker Create(LoadBalancerKind kind, EndpointState[] endpoints, double[] weights, PickerSettings settings)
    {
        if (endpoints.Length == 1)
        {
            return new SinglePicker(endpoints);
        }

        return kind switch
        {
            LoadBalancerKind.RoundRobin => new RoundRobinPicker(endpoints, weights),
            LoadBalancerKind.WeightedRoundRobin => new WeightedRoundRobinPicker(endpoints, weights),
            LoadBalancerKind.Random => new RandomPicker(endpoints, weights),
            LoadBalancerKind.LeastRequest => new LeastRequestPicker(endpoints, weights),
            LoadBalancerKind.ConsistentHash => new MaglevPicker(endpoints, weights),
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
