using Mesh.LoadBalancing.Internal;

namespace Mesh.Services.Internal;

/// <summary>
/// What the per-request path reads: an immutable view of one service, built by <see cref="ServiceSnapshotBuilder"/>
/// under the service lock whenever anything routing-relevant changes, and published with one volatile write.
/// </summary>
internal sealed class ServiceSnapshot
{
    public ServiceSnapshot(EndpointPicker picker, bool panic, int routable, int total, long refreshAt, EndpointPicker? fallback = null)
    {
        Picker = picker;
        Fallback = fallback;
        Panic = panic;
        Routable = routable;
        Total = total;
        RefreshAt = refreshAt;
    }

    private ServiceSnapshot(string unavailableReason, int total, Task? firstSet)
    {
        UnavailableReason = unavailableReason;
        Total = total;
        RefreshAt = long.MaxValue;
        FirstSet = firstSet;
    }

    /// <summary>Picks among the endpoints that take traffic now; null when none can (see <see cref="UnavailableReason"/>).</summary>
    public EndpointPicker? Picker { get; }

    /// <summary>When <see cref="Picker"/> covers a preferred group only (the local zone): a picker over the other
    /// candidates, for attempts that already tried every endpoint of the preferred group. Null otherwise.</summary>
    public EndpointPicker? Fallback { get; }

    /// <summary>Whether too few endpoints are routable and traffic is spread over all of them.</summary>
    public bool Panic { get; }

    /// <summary>Endpoints not ejected and not failing active checks.</summary>
    public int Routable { get; }

    /// <summary>All endpoints of the service.</summary>
    public int Total { get; }

    /// <summary>When slow-start weights must be recomputed (timestamp), or <see cref="long.MaxValue"/>.</summary>
    public long RefreshAt { get; }

    /// <summary>Why no endpoint can take a request, when <see cref="Picker"/> is null.</summary>
    public string? UnavailableReason { get; }

    /// <summary>While the service has no endpoints and a discovery provider has not published its first set yet: a task
    /// that completes when that changes (requests wait for it, bounded by <c>DiscoveryTimeout</c>). Null otherwise.</summary>
    public Task? FirstSet { get; }

    /// <summary>A snapshot with no picker.</summary>
    public static ServiceSnapshot Unavailable(string reason, int total = 0, Task? firstSet = null) => new(reason, total, firstSet);

    /// <summary>This snapshot, waiting for <paramref name="firstSet"/>.</summary>
    public ServiceSnapshot Awaiting(Task firstSet) => new(UnavailableReason ?? "waiting for the first endpoint set", Total, firstSet);
}
