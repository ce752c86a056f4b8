using System.Collections;
using Mesh.Endpoints.Internal;
using Mesh.LoadBalancing.Internal;

namespace Mesh;

/// <summary>
/// The endpoints a <see cref="MeshEndpointPicker"/> chooses from: those of one service that may take traffic now
/// (ejected endpoints and endpoints failing active health checks are left out, unless the service is in panic mode),
/// in a fixed order for the picker's lifetime. Immutable; the live values of each candidate (requests in flight,
/// latency) are read through <see cref="MeshPickerCandidate"/>.
/// </summary>
/// <remarks>Index the candidates with the indexer in <see cref="MeshEndpointPicker.Pick"/>: it returns a struct and
/// allocates nothing. Enumerating them as an <see cref="IEnumerable{T}"/> allocates; do that in
/// <see cref="MeshLoadBalancer.CreatePicker"/> only.</remarks>
public sealed class MeshPickerCandidates : IReadOnlyList<MeshPickerCandidate>
{
    internal MeshPickerCandidates(string service, EndpointState[] states, double[] weights, PickerSettings picker, double frequency)
    {
        ServiceName = service;
        States = states;
        Weights = weights;
        Picker = picker;
        Frequency = frequency;
    }

    /// <summary>The service the candidates belong to (lower case).</summary>
    public string ServiceName { get; }

    /// <summary>How many candidates there are (at least two when the mesh asks a balancer for a picker).</summary>
    public int Count => States.Length;

    internal EndpointState[] States { get; }

    internal double[] Weights { get; }

    internal PickerSettings Picker { get; }

    internal double Frequency { get; }

    /// <summary>The candidate at <paramref name="index"/>.</summary>
    /// <param name="index">From 0 to <see cref="Count"/> − 1.</param>
    public MeshPickerCandidate this[int index] => new(this, index);

    /// <inheritdoc />
    public IEnumerator<MeshPickerCandidate> GetEnumerator()
    {
        for (var i = 0; i < States.Length; i++)
        {
            yield return new MeshPickerCandidate(this, i);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>One candidate of a <see cref="MeshPickerCandidates"/>: the endpoint, its weight for this picker, and its
/// live load and latency. A small struct over the mesh's own endpoint state: reading it allocates nothing.</summary>
public readonly struct MeshPickerCandidate
{
    private readonly MeshPickerCandidates _candidates;
    private readonly int _index;

    internal MeshPickerCandidate(MeshPickerCandidates candidates, int index)
    {
        _candidates = candidates;
        _index = index;
    }

    private EndpointState State => _candidates.States[_index];

    /// <summary>The candidate's index in its <see cref="MeshPickerCandidates"/>: what <see cref="MeshEndpointPicker.Pick"/> returns to choose it.</summary>
    public int Index => _index;

    /// <summary>The endpoint: its address, configured weight, zone and metadata.</summary>
    public MeshEndpoint Endpoint => State.Endpoint;

    /// <summary>The endpoint's effective weight for this picker: its configured weight times its slow-start factor
    /// (below the configured weight while it ramps up after joining or returning from an ejection). Always positive.</summary>
    public double Weight => _candidates.Weights[_index];

    /// <summary>Requests to the endpoint in flight now (all attempts of every client of this process that use the mesh).</summary>
    public int InFlight => State.InFlight;

    /// <summary>Requests sent to the endpoint since it joined.</summary>
    public long Requests => State.Requests;

    /// <summary>Requests to the endpoint that failed since it joined.</summary>
    public long Failures => State.Failures;

    /// <summary>Whether the endpoint is on probation after an ejection: the mesh lets one probe request at a time
    /// through (a pick of it beyond that is refused and drawn again with a higher <see cref="MeshPickContext.Attempt"/>).</summary>
    public bool IsProbing => State.Status == EndpointStatus.Probing;

    /// <summary>The endpoint's latency estimate at <paramref name="timestamp"/> (the peak-EWMA balancer's: a moving
    /// geometric mean of the time to response headers, raised at once by failures, decaying while the endpoint gets
    /// no traffic), or <see langword="null"/> while it has too few samples to be compared with other endpoints'.</summary>
    /// <param name="timestamp">Now, usually <see cref="MeshPickContext.Timestamp"/>.</param>
    public TimeSpan? GetLatencyEstimate(long timestamp)
    {
        var state = State;
        return state.IsRttTrusted
            ? TimeSpan.FromSeconds(state.RttEstimate(timestamp, _candidates.Picker.DecayTicks) / _candidates.Frequency)
            : null;
    }
}
