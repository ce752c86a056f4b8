namespace Mesh;

/// <summary>The load-balancing algorithms a service can use (<c>Mesh:Services:{name}:LoadBalancer</c>).</summary>
public enum LoadBalancerKind
{
    /// <summary>Power of two choices on cost = RTT estimate × (in-flight + 1), with a peak-sensitive, time-decayed
    /// RTT estimate (Finagle, Linkerd). Avoids slow and overloaded endpoints within a few requests. The default.</summary>
    PeakEwma = 0,

    /// <summary>Each endpoint in turn, ignoring weights.</summary>
    RoundRobin,

    /// <summary>Smooth weighted round robin: exact weight proportions in every window of sum(weights) requests.</summary>
    WeightedRoundRobin,

    /// <summary>Weighted random choice (alias method, O(1) per pick).</summary>
    Random,

    /// <summary>Power of two choices on in-flight requests; with unequal weights the score is
    /// weight / (in-flight + 1)^bias, as in Envoy.</summary>
    LeastRequest,

    /// <summary>Maglev consistent hashing on a key from <c>HashHeader</c> or <see cref="MeshRequestOptions.HashKey"/>:
    /// the same key goes to the same endpoint, and removing one of n endpoints moves about 1/n of the keys.</summary>
    ConsistentHash,
}
