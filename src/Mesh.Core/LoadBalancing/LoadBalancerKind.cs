namespace Mesh;

/// <summary>The built-in load-balancing algorithms a service can use (<c>Mesh:Services:{name}:LoadBalancer</c>). How each
/// one works, with its sources, is in docs/load-balancing.md. More can be added by name: see <see cref="MeshLoadBalancer"/>.</summary>
public enum LoadBalancerKind
{
    /// <summary>Power of two choices on load and latency (after Finagle's and Linkerd's peak-EWMA): two candidates
    /// drawn in proportion to weight; the first keeps the request unless the second is clearly less loaded (requests
    /// in flight per unit of weight) or, often, clearly faster (RTT estimates more than 1.5× apart). Equal replicas
    /// share traffic evenly at any concurrency, weights and slow start hold, and slow replicas lose most of their
    /// traffic within a few requests. The default.</summary>
    PeakEwma = 0,

    /// <summary>Each endpoint in turn, ignoring weights (endpoints in slow start are skipped in proportion).</summary>
    RoundRobin,

    /// <summary>Smooth weighted round robin: exact weight proportions in every window of sum(weights) requests.</summary>
    WeightedRoundRobin,

    /// <summary>Weighted random choice (alias method, O(1) per pick).</summary>
    Random,

    /// <summary>Power of two choices on requests in flight per unit of weight: two candidates drawn in proportion to
    /// weight; the first keeps the request unless it has more than 1.5× the second's load. Traffic follows the weights
    /// exactly while loads are even, at any concurrency; latency is not considered.</summary>
    LeastRequest,

    /// <summary>Maglev consistent hashing on a key from <c>HashHeader</c> or <see cref="MeshRequestOptions.HashKey"/>:
    /// the same key goes to the same endpoint, and removing one of n endpoints moves about 1/n of the keys.</summary>
    ConsistentHash,
}
