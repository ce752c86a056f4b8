using Mesh.Endpoints.Internal;
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
    public long RefreshAt { get; private init; }

    /// <summary>Why no endpoint can take a request, when <see cref="Picker"/> is null.</summary>
    public string? UnavailableReason { get; }

    /// <summary>While the service has no endpoints and a discovery provider has not published its first set yet: a task
    /// that completes when that changes (requests wait for it, bounded by <c>DiscoveryTimeout</c>). Null otherwise.</summary>
    public Task? FirstSet { get; }

    /// <summary>When the service's custom balancer threw while creating a picker: the exception (round robin stands in).</summary>
    public Exception? BalancerFailure { get; init; }

    /// <summary>Whether the service has http endpoints (routable or not).</summary>
    public bool HasHttp { get; private init; }

    /// <summary>Whether the service has https endpoints (routable or not).</summary>
    public bool HasHttps { get; private init; }

    /// <summary>When the service has endpoints of both schemes: the snapshot of its http endpoints alone (its own
    /// panic, zones and picker), for requests that prefer http. Null otherwise.</summary>
    public ServiceSnapshot? HttpView { get; private init; }

    /// <summary>When the service has endpoints of both schemes: the snapshot of its https endpoints alone. Null otherwise.</summary>
    public ServiceSnapshot? HttpsView { get; private init; }

    /// <summary>The snapshot a request with <paramref name="preference"/> picks from (see <see cref="SchemePreference"/>):
    /// this one, or the view of one scheme. Allocates only to fail an https-only request to a service without https endpoints.</summary>
    public ServiceSnapshot For(SchemePreference preference) => preference switch
    {
        SchemePreference.Any => this,
        SchemePreference.HttpFirst => HttpView ?? this,
        SchemePreference.HttpsFirst => HttpsView ?? this,
        _ => HttpsView ?? (HasHttp && !HasHttps ? NoHttps() : this),
    };

    private ServiceSnapshot NoHttps() => Unavailable(
        $"the request asks for https only (https://), but none of the service's {Total} endpoints is https; the mesh never sends such a request in clear text. " +
        "Use https+http:// to prefer https and allow http, or http:// for any endpoint", Total);

    /// <summary>This snapshot with the scheme facts and views of its endpoint set (see <see cref="ServiceSnapshotBuilder"/>).</summary>
    public ServiceSnapshot WithSchemes(bool hasHttp, bool hasHttps, ServiceSnapshot? httpView, ServiceSnapshot? httpsView) => new(this)
    {
        HasHttp = hasHttp,
        HasHttps = hasHttps,
        HttpView = httpView,
        HttpsView = httpsView,
        RefreshAt = Math.Min(RefreshAt, Math.Min(httpView?.RefreshAt ?? long.MaxValue, httpsView?.RefreshAt ?? long.MaxValue)),
        BalancerFailure = BalancerFailure ?? httpView?.BalancerFailure ?? httpsView?.BalancerFailure,
    };

    private ServiceSnapshot(ServiceSnapshot other)
    {
        Picker = other.Picker;
        Fallback = other.Fallback;
        Panic = other.Panic;
        Routable = other.Routable;
        Total = other.Total;
        RefreshAt = other.RefreshAt;
        UnavailableReason = other.UnavailableReason;
        FirstSet = other.FirstSet;
        BalancerFailure = other.BalancerFailure;
        HasHttp = other.HasHttp;
        HasHttps = other.HasHttps;
        HttpView = other.HttpView;
        HttpsView = other.HttpsView;
    }

    /// <summary>A snapshot with no picker.</summary>
    public static ServiceSnapshot Unavailable(string reason, int total = 0, Task? firstSet = null) => new(reason, total, firstSet);

    /// <summary>This snapshot, waiting for <paramref name="firstSet"/>.</summary>
    public ServiceSnapshot Awaiting(Task firstSet) => new(UnavailableReason ?? "waiting for the first endpoint set", Total, firstSet);
}
