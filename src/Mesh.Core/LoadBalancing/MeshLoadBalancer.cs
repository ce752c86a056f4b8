using Mesh.Endpoints.Internal;
using Mesh.LoadBalancing.Internal;

namespace Mesh;

/// <summary>
/// A load-balancing algorithm, selectable by name per service (<c>Mesh:Services:{name}:LoadBalancer</c>). Register one
/// with <c>services.AddMeshLoadBalancer&lt;TBalancer&gt;()</c>; the built-in balancers (the names of
/// <see cref="LoadBalancerKind"/>) are registered the same way by <c>AddMeshClient()</c>.
/// <para>
/// The contract is the one of the built-in balancers (like grpc-dotnet's <c>SubchannelPicker</c>): the mesh calls
/// <see cref="CreatePicker"/> whenever the set of endpoints that may take traffic changes — an endpoint joins or
/// leaves, is ejected or returns, fails or passes active health checks, ramps up in slow start — and publishes the
/// picker in an immutable snapshot. Every request then calls <see cref="MeshEndpointPicker.Pick"/> on the current
/// picker, from many threads at once, with no lock. Health, panic mode, zone preference, traffic splits, retries that
/// avoid endpoints already tried and probes after an ejection are applied by the mesh around the picker: the
/// candidates a picker gets are already the ones that may take the request.
/// </para>
/// </summary>
/// <remarks>A balancer is a singleton shared by every service that names it; keep per-service state in the picker.</remarks>
public abstract class MeshLoadBalancer
{
    /// <summary>Creates a balancer registered under <paramref name="name"/>.</summary>
    /// <param name="name">The name services select it by (compared case-insensitively), for example <c>Priority</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or contains a separator (<c>,</c>, <c>;</c>, <c>|</c>).</exception>
    protected MeshLoadBalancer(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Trim() != name || name.AsSpan().IndexOfAny(",;|") >= 0)
        {
            throw new ArgumentException($"'{name}' cannot be a load balancer name: use letters, digits, '-', '_' or '.', without spaces or separators.", nameof(name));
        }

        Name = name;
    }

    /// <summary>The name services select the balancer by (<c>LoadBalancer</c>).</summary>
    public string Name { get; }

    /// <summary>Whether the balancer uses a per-request hash key (<see cref="MeshPickContext.HasHashKey"/>): when true,
    /// the mesh hashes the value of the service's <c>HashHeader</c> or <see cref="MeshRequestOptions.HashKey"/> for every
    /// request. Off by default, so that other balancers pay nothing for it.</summary>
    public virtual bool UsesHashKey => false;

    /// <summary>
    /// Creates the picker for one set of candidates. Called under the service's lock whenever the set changes, never
    /// per request: precompute here what <see cref="MeshEndpointPicker.Pick"/> needs (tables, cumulative weights,
    /// groups), so that a pick allocates nothing. With a single candidate the mesh routes to it without asking.
    /// </summary>
    /// <param name="candidates">The endpoints that may take traffic now (at least two), with their effective weights.</param>
    /// <returns>The picker; it may keep <paramref name="candidates"/>.</returns>
    public abstract MeshEndpointPicker CreatePicker(MeshPickerCandidates candidates);

    /// <summary>The mesh's own entry point: the picker the request path calls. The built-in balancers return their
    /// native pickers; any other balancer's picker is wrapped once per snapshot.</summary>
    internal virtual EndpointPicker CreateEndpointPicker(EndpointState[] endpoints, double[] weights, in BalancerInputs inputs)
    {
        if (endpoints.Length == 1)
        {
            return new SinglePicker(endpoints);
        }

        var picker = CreatePicker(new MeshPickerCandidates(inputs.Service, endpoints, weights, inputs.Picker, inputs.Frequency))
            ?? throw new InvalidOperationException($"Load balancer '{Name}' ({GetType().FullName}) returned no picker from CreatePicker.");
        return new CustomEndpointPicker(endpoints, picker, this);
    }
}

/// <summary>
/// Chooses the endpoint of each request among a fixed set of candidates (<see cref="MeshPickerCandidates"/>), created by
/// a <see cref="MeshLoadBalancer"/> for one snapshot of a service. <see cref="Pick"/> runs on every request, concurrently
/// and without a lock: keep it allocation-free, and update any state of your own (a cursor) with
/// <see cref="Interlocked"/>.
/// </summary>
public abstract class MeshEndpointPicker
{
    /// <summary>Chooses one candidate for a request.</summary>
    /// <param name="context">The request's pick: the timestamp, its hash key when the balancer uses one, and the draw
    /// number (a later <see cref="MeshPickContext.Attempt"/> means the earlier choice was refused — already tried by
    /// this request, or a probe slot taken — and should tend to choose differently).</param>
    /// <returns>The index of the chosen candidate, from 0 to <see cref="MeshPickerCandidates.Count"/> − 1.</returns>
    public abstract int Pick(in MeshPickContext context);
}

/// <summary>What a picker knows about one pick. Passed by reference; never allocated.</summary>
public readonly struct MeshPickContext
{
    /// <summary>Creates a pick context (the mesh creates one per draw; tests of a picker create their own).</summary>
    /// <param name="timestamp">The current timestamp of the mesh's <see cref="TimeProvider"/>.</param>
    /// <param name="hashKey">The hash of the request's key, when <paramref name="hasHashKey"/>.</param>
    /// <param name="hasHashKey">Whether the request carries a hash key.</param>
    /// <param name="attempt">0 for the first draw of an attempt; higher when an earlier draw was refused.</param>
    public MeshPickContext(long timestamp, ulong hashKey = 0, bool hasHashKey = false, int attempt = 0)
    {
        Timestamp = timestamp;
        HashKey = hashKey;
        HasHashKey = hasHashKey;
        Attempt = attempt;
    }

    /// <summary>The current timestamp of the mesh's <see cref="TimeProvider"/> (<see cref="TimeProvider.GetTimestamp"/>),
    /// for <see cref="MeshPickerCandidate.GetLatencyEstimate"/>.</summary>
    public long Timestamp { get; }

    /// <summary>The 64-bit hash (XxHash3) of the request's hash key, when <see cref="HasHashKey"/>: the value of the
    /// service's <c>HashHeader</c>, or <see cref="MeshRequestOptions.HashKey"/>. Only computed for balancers whose
    /// <see cref="MeshLoadBalancer.UsesHashKey"/> is true.</summary>
    public ulong HashKey { get; }

    /// <summary>Whether the request carries a hash key.</summary>
    public bool HasHashKey { get; }

    /// <summary>0 for the first draw; higher when the previous draw was refused (already tried by this request, or an
    /// endpoint on probation whose single probe is taken).</summary>
    public int Attempt { get; }
}
