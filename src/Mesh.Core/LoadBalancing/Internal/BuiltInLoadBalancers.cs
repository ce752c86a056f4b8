using System.Collections.Frozen;
using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>What a balancer's picker is built with, besides the candidates and weights.</summary>
/// <param name="Service">The service's name.</param>
/// <param name="Picker">Timing and randomness of the built-in pickers.</param>
/// <param name="Frequency">Timestamp ticks per second.</param>
internal readonly record struct BalancerInputs(string Service, PickerSettings Picker, double Frequency);

/// <summary>A built-in balancer: registered like any other (<c>AddMeshLoadBalancer</c>), but the request path gets its
/// native picker, which works on the endpoint states directly.</summary>
internal abstract class BuiltInLoadBalancer(LoadBalancerKind kind) : MeshLoadBalancer(kind.ToString())
{
    public LoadBalancerKind Kind { get; } = kind;

    public override bool UsesHashKey => Kind == LoadBalancerKind.ConsistentHash;

    /// <summary>The built-in picker behind the public contract (for a balancer that wraps a built-in one): it picks
    /// an endpoint state and maps it back to its index.</summary>
    public override MeshEndpointPicker CreatePicker(MeshPickerCandidates candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        return new IndexedPicker(EndpointPickerFactory.Create(Kind, candidates.States, candidates.Weights, candidates.Picker));
    }

    internal override EndpointPicker CreateEndpointPicker(EndpointState[] endpoints, double[] weights, in BalancerInputs inputs) =>
        EndpointPickerFactory.Create(Kind, endpoints, weights, inputs.Picker);

    private sealed class IndexedPicker : MeshEndpointPicker
    {
        private readonly EndpointPicker _picker;
        private readonly FrozenDictionary<EndpointState, int> _index;

        public IndexedPicker(EndpointPicker picker)
        {
            _picker = picker;
            _index = picker.Endpoints.Select((e, i) => KeyValuePair.Create(e, i)).ToFrozenDictionary(ReferenceEqualityComparer.Instance);
        }

        public override int Pick(in MeshPickContext context) =>
            _index[_picker.Pick(new PickContext(context.Timestamp, context.HashKey, context.HasHashKey, context.Attempt))];
    }
}

internal sealed class PeakEwmaLoadBalancer() : BuiltInLoadBalancer(LoadBalancerKind.PeakEwma);

internal sealed class RoundRobinLoadBalancer() : BuiltInLoadBalancer(LoadBalancerKind.RoundRobin);

internal sealed class WeightedRoundRobinLoadBalancer() : BuiltInLoadBalancer(LoadBalancerKind.WeightedRoundRobin);

internal sealed class RandomLoadBalancer() : BuiltInLoadBalancer(LoadBalancerKind.Random);

internal sealed class LeastRequestLoadBalancer() : BuiltInLoadBalancer(LoadBalancerKind.LeastRequest);

internal sealed class ConsistentHashLoadBalancer() : BuiltInLoadBalancer(LoadBalancerKind.ConsistentHash);

/// <summary>A picker of another balancer, behind the request path's contract: one virtual call and a bounds check more
/// than a built-in picker, no allocation.</summary>
internal sealed class CustomEndpointPicker(EndpointState[] endpoints, MeshEndpointPicker picker, MeshLoadBalancer balancer) : EndpointPicker(endpoints)
{
    public override EndpointState Pick(in PickContext context)
    {
        var index = picker.Pick(new MeshPickContext(context.Now, context.Hash, context.HasHash, context.Attempt));
        var endpoints = Endpoints;
        return (uint)index < (uint)endpoints.Length ? endpoints[index] : throw OutOfRange(index);
    }

    private InvalidOperationException OutOfRange(int index) => new(
        $"Load balancer '{balancer.Name}' ({balancer.GetType().FullName}) picked candidate {index}; allowed: 0 to {Endpoints.Length - 1}.");
}

/// <summary>The balancers by name (case-insensitive): the built-in ones and those registered with
/// <c>AddMeshLoadBalancer</c>. The first registration of a name wins; <see cref="Duplicates"/> lists the others, which
/// fail validation.</summary>
internal sealed class LoadBalancerCatalog
{
    private readonly FrozenDictionary<string, MeshLoadBalancer> _byName;

    private LoadBalancerCatalog(IEnumerable<MeshLoadBalancer> balancers)
    {
        var byName = new Dictionary<string, MeshLoadBalancer>(StringComparer.OrdinalIgnoreCase);
        var names = new List<string>();
        var duplicates = new List<string>();
        foreach (var balancer in balancers)
        {
            if (byName.TryGetValue(balancer.Name, out var first))
            {
                // The container's instances of the built-in balancers repeat the built-in ones: not a conflict.
                if (!ReferenceEquals(first, balancer) && !(first is BuiltInLoadBalancer && first.GetType() == balancer.GetType()))
                {
                    duplicates.Add($"'{balancer.Name}' ({first.GetType().FullName} and {balancer.GetType().FullName})");
                }

                continue;
            }

            byName[balancer.Name] = balancer;
            names.Add(balancer.Name);
        }

        _byName = byName.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        Names = names;
        Duplicates = duplicates;
    }

    /// <summary>The built-in balancers only (for parts built without a container: tests, benchmarks).</summary>
    public static LoadBalancerCatalog BuiltIn { get; } = new(BuiltIns());

    /// <summary>The registered names, built-in ones first, in registration order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Names registered by more than one balancer type, described for an error message.</summary>
    public IReadOnlyList<string> Duplicates { get; }

    /// <summary>A catalog of the built-in balancers and <paramref name="registered"/> (the container's, which include the
    /// built-in ones again; those are not duplicates).</summary>
    public static LoadBalancerCatalog Create(IEnumerable<MeshLoadBalancer>? registered) =>
        registered is null ? BuiltIn : new(BuiltIns().Concat(registered));

    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out MeshLoadBalancer balancer) =>
        _byName.TryGetValue(name, out balancer);

    /// <summary>The balancer named <paramref name="name"/>.</summary>
    /// <exception cref="InvalidOperationException">No balancer has that name (validation reports it first in an app).</exception>
    public MeshLoadBalancer Get(string name, string service) => _byName.TryGetValue(name, out var balancer)
        ? balancer
        : throw new InvalidOperationException($"Mesh service '{service}': '{name}' is not a registered load balancer; registered: {string.Join(", ", Names)}.");

    private static IEnumerable<MeshLoadBalancer> BuiltIns() =>
    [
        new PeakEwmaLoadBalancer(), new RoundRobinLoadBalancer(), new WeightedRoundRobinLoadBalancer(),
        new RandomLoadBalancer(), new LeastRequestLoadBalancer(), new ConsistentHashLoadBalancer(),
    ];
}
