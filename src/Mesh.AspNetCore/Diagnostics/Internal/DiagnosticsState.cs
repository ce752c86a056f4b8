using Mesh.Identity;

namespace Mesh.Diagnostics.Internal;

/// <summary>One entry of the health timeline.</summary>
/// <param name="Id">Increasing from 1, in the order the events happened.</param>
/// <param name="Time">When it happened (the app's clock).</param>
/// <param name="Kind">One of the <see cref="DiagnosticsEventKinds"/>.</param>
/// <param name="Service">The service.</param>
/// <param name="Endpoint">The endpoint's address, for endpoint events.</param>
/// <param name="Source">The discovery source, for discovery events.</param>
/// <param name="PreviousState">The endpoint's state before, for endpoint events.</param>
/// <param name="State">The endpoint's state after, for endpoint events.</param>
/// <param name="Reason">Why.</param>
internal sealed record DiagnosticsEvent(long Id, DateTimeOffset Time, string Kind, string Service, string? Endpoint, string? Source,
    MeshEndpointHealth? PreviousState, MeshEndpointHealth? State, string? Reason);

/// <summary>The kinds of timeline events, as the JSON document names them.</summary>
internal static class DiagnosticsEventKinds
{
    public const string Ejected = "Ejected";
    public const string Probing = "Probing";
    public const string Returned = "Returned";
    public const string Unhealthy = "Unhealthy";
    public const string PanicStarted = "PanicStarted";
    public const string PanicEnded = "PanicEnded";
    public const string DiscoveryFailed = "DiscoveryFailed";
    public const string DiscoveryRecovered = "DiscoveryRecovered";

    /// <summary>The kind of an endpoint health change, from the state it entered.</summary>
    public static string Of(MeshEndpointHealth current) => current switch
    {
        MeshEndpointHealth.Ejected => Ejected,
        MeshEndpointHealth.Probing => Probing,
        MeshEndpointHealth.Unhealthy => Unhealthy,
        _ => Returned,
    };
}

/// <summary>An endpoint's traffic over the window, from the differences of its request and failure counters.</summary>
/// <param name="Requests">Attempts sent to it in the window.</param>
/// <param name="Failures">Of those, the failed ones.</param>
/// <param name="Seconds">The time the difference covers (0 before the second sample).</param>
internal readonly record struct EndpointTraffic(long Requests, long Failures, double Seconds);

/// <summary>Everything one diagnostics document shows, captured at once; written out with no lock held.</summary>
internal sealed class DiagnosticsState
{
    public required DateTimeOffset GeneratedAt { get; init; }

    public required IReadOnlyList<MeshServiceSnapshot> Services { get; init; }

    /// <summary>Per service, from the request-duration histogram; absent for a service without recorded attempts.</summary>
    public required IReadOnlyDictionary<string, TrafficSummary> ServiceTraffic { get; init; }

    /// <summary>Per (service, endpoint key).</summary>
    public required IReadOnlyDictionary<(string Service, string Endpoint), EndpointTraffic> EndpointTraffic { get; init; }

    /// <summary>Ejections per (service, endpoint key) since the diagnostics started.</summary>
    public required IReadOnlyDictionary<(string Service, string Endpoint), int> Ejections { get; init; }

    public required MeshIdentity? Identity { get; init; }

    public required IReadOnlyList<DiagnosticsEvent> Events { get; init; }
}
