using Mesh.LoadBalancing.Internal;

namespace Mesh.Services.Internal;

/// <summary>
/// What the per-request path reads: an immutable view of one service, built by <see cref="ServiceSnapshotBuilder"/>
/// under the service lock whenever anything routing-relevant changes, and published with one volatile write.
/// </summary>
internal sealed class ServiceSnapshot
{
    public ServiceSnapshot(EndpointPicker picker, bool panic, int routable, int total, long refreshAt)
    {
        Picker = picker;
        Panic = panic;
        Routable = routable;
        Total = total;
        RefreshAt = refreshAt;
    }

    private ServiceSnapshot(string unavailableReason, int total)
    {
        UnavailableReason = unavailableReason;
        Total = total;
        RefreshAt = long.MaxValue;
    }

    /// <summary>Picks among the endpoints that take traffic now; null when none can (see <see cref="UnavailableReason"/>).</summary>
    public EndpointPicker? Picker { get; }

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

    /// <summary>A snapshot with no picker.</summary>
    public static ServiceSnapshot Unavailable(string reason, int total = 0) => new(reason, total);
}
