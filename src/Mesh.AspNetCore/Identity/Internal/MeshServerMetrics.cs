using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Identity.Internal;

/// <summary>
/// The server side's instruments, on the mesh's meter (<see cref="MeshTelemetry.Name"/>, so <c>AddMeshInstrumentation()</c>
/// exports them with the client's): refused TLS handshakes by reason, as the client's <c>mesh.tls.handshake.failures</c>,
/// and requests refused by per-route authorization. One instance per meter factory (per application), shared by every
/// listener and the authentication handler.
/// </summary>
internal sealed class MeshServerMetrics
{
    /// <summary>The OpenTelemetry attribute of the matched route template.</summary>
    public const string HttpRoute = "http.route";

    private static readonly ConditionalWeakTable<IMeterFactory, MeshServerMetrics> s_byFactory = new();
    private static readonly Lazy<MeshServerMetrics> s_unscoped = new(() => new MeshServerMetrics(new Meter(MeshTelemetry.Name)));

    private readonly Counter<long> _handshakeFailures;
    private readonly Counter<long> _denials;

    private MeshServerMetrics(Meter meter)
    {
        _handshakeFailures = meter.CreateCounter<long>("mesh.server.tls.handshake.failures", "{handshake}",
            "TLS connections refused by the server's identity check (UseMeshIdentity), by reason.");
        _denials = meter.CreateCounter<long>("mesh.server.authorization.denials", "{request}",
            "Requests refused by per-route authorization of the mesh scheme: forbidden (403), unauthenticated or certificate_expired (401).");
    }

    /// <summary>The application's instance: on its <see cref="IMeterFactory"/> when it has one, else on a process-wide meter.</summary>
    public static MeshServerMetrics For(IServiceProvider? services) =>
        services?.GetService<IMeterFactory>() is { } factory
            ? s_byFactory.GetValue(factory, static f => new MeshServerMetrics(f.Create(MeshTelemetry.Name)))
            : s_unscoped.Value;

    public void RecordHandshakeFailure(X509SvidFailureReason reason, int? localPort)
    {
        if (!_handshakeFailures.Enabled)
        {
            return;
        }

        var tags = new System.Diagnostics.TagList { { MeshTelemetry.Attributes.TlsFailureReason, reason.ToString() } };
        if (localPort is { } port)
        {
            tags.Add(MeshTelemetry.Attributes.ServerPort, port);
        }

        _handshakeFailures.Add(1, tags);
    }

    /// <param name="denial"><c>forbidden</c>, <c>unauthenticated</c> or <c>certificate_expired</c>.</param>
    /// <param name="peer">The caller's SPIFFE ID when it is known (proven at the handshake, so its values are bounded by the
    /// workloads of the trusted trust domains).</param>
    /// <param name="route">The route template, when the request matched one.</param>
    public void RecordDenial(string denial, SpiffeId? peer, string? route)
    {
        if (!_denials.Enabled)
        {
            return;
        }

        var tags = new System.Diagnostics.TagList { { MeshTelemetry.Attributes.ErrorType, denial } };
        if (peer is not null)
        {
            tags.Add(MeshTelemetry.Attributes.PeerSpiffeId, peer.ToString());
        }

        if (route is not null)
        {
            tags.Add(HttpRoute, route);
        }

        _denials.Add(1, tags);
    }
}
