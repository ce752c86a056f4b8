using Mesh.Configuration.Internal;

namespace Mesh;

/// <summary>
/// The mesh's configuration: the <c>Mesh</c> section of <c>IConfiguration</c>, or code-first through
/// <c>AddMeshClient(options =&gt; ...)</c>. Validated when the host starts; a configuration reload that does not
/// validate is refused and the last good configuration stays in effect.
/// </summary>
public sealed class MeshOptions
{
    /// <summary>The configuration section bound by <c>AddMeshClient()</c>.</summary>
    public const string SectionName = "Mesh";

    /// <summary>The zone this process runs in (<c>Mesh:Zone</c>). When set, endpoints in the same zone are preferred
    /// while they have healthy capacity.</summary>
    /// <value>Default: <see langword="null"/> (no zone preference).</value>
    public string? Zone { get; set; }

    /// <summary>The workload's identity for mutual TLS (<c>Mesh:Identity</c>): PEM files reloaded when they change.
    /// When <see cref="Mesh.Identity.MeshIdentityOptions.CertificatePath"/> is set (or an <see cref="Mesh.Identity.IMeshIdentitySource"/> is
    /// registered), <c>https</c> endpoints are reached over mTLS and must prove the service's <c>ServerIdentity</c>.</summary>
#pragma warning disable SYSLIB1212 // Validated with the identity's own configuration path (MeshOptionsValidator).
    public Mesh.Identity.MeshIdentityOptions Identity { get; } = new();
#pragma warning restore SYSLIB1212

    /// <summary>Whether every service must be reached over mutual TLS (<c>Mesh:RequireMutualTls</c>), as if each had a
    /// <c>ServerIdentity</c> (when it has none, servers must prove any SPIFFE ID of the workload's own trust domain).
    /// Plain-http endpoints then fail start-up (from configuration) or are left out with a warning (from discovery),
    /// unless the service sets <c>AllowPlainHttp</c>. Requires an identity (<c>Mesh:Identity</c>).</summary>
    /// <value>Default: <see langword="false"/>.</value>
    public bool RequireMutualTls { get; set; }

    /// <summary>The services the mesh routes to, by logical name (<c>Mesh:Services:{name}</c>), compared case-insensitively.</summary>
    public IDictionary<string, MeshServiceOptions> Services { get; } = new Dictionary<string, MeshServiceOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether a request to a host that is not a configured service is passed through unchanged
    /// (<c>Mesh:PassThroughUnknownHosts</c>) rather than failed with <see cref="MeshServiceNotFoundException"/>.</summary>
    /// <value>Default: <see langword="false"/>.</value>
    public bool PassThroughUnknownHosts { get; set; }

    /// <summary>The most active health checks that run at the same time, across all services (<c>Mesh:MaxConcurrentHealthChecks</c>).</summary>
    /// <value>Default: 16. Allowed: 1 to 1024.</value>
    [AllowedRange(1, 1024)]
    public int MaxConcurrentHealthChecks { get; set; } = 16;

    /// <summary>Whether Microsoft.Extensions.ServiceDiscovery's <c>Services:{name}:{scheme}:{i}</c> entries are read as
    /// endpoints of services not configured under <c>Mesh:Services</c> (<c>Mesh:ReadServiceDiscoveryConfiguration</c>).</summary>
    /// <value>Default: <see langword="true"/>.</value>
    public bool ReadServiceDiscoveryConfiguration { get; set; } = true;

    /// <summary>How long establishing a connection to an endpoint may take (<c>Mesh:ConnectTimeout</c>); a timed-out
    /// connect counts as a connection failure.</summary>
    /// <value>Default: 5 seconds. Allowed: 100 ms to 5 minutes.</value>
    [AllowedRange("00:00:00.100", "00:05:00")]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether requests the mesh sends over mutual TLS ask for HTTP/2 (<c>Mesh:Http2Upgrade</c>): the TLS
    /// handshake offers h2 and http/1.1 (ALPN), so a server without HTTP/2 still answers over HTTP/1.1. Over HTTP/2 an
    /// attempt that times out or is cancelled resets its stream and the connection stays; over HTTP/1.1 it closes the
    /// connection, and the next request pays a new TLS handshake — under a storm of timeouts, handshakes alone can keep
    /// a busy service saturated. Requests that set a version other than 1.1, an exact version policy, or an
    /// <c>Upgrade</c> header (WebSockets) are sent as they are.</summary>
    /// <value>Default: <see langword="true"/>. Read when the mesh transport is created (a change needs a restart).</value>
    public bool Http2Upgrade { get; set; } = true;

    /// <summary>How long a request waits for a service's first endpoint set while its discovery sources (DNS, etcd,
    /// Docker, your provider) are still resolving it (<c>Mesh:DiscoveryTimeout</c>), for example right after the app
    /// starts. The wait is asynchronous and ends as soon as a set arrives, when the caller cancels, or after this time
    /// with a <see cref="MeshNoEndpointsException"/> naming the sources and their last problem. Once a service has had
    /// endpoints, nothing waits. <c>Mesh:Services:{name}:DiscoveryTimeout</c> overrides it per service.</summary>
    /// <value>Default: 5 seconds. Allowed: 00:00:00 (never wait) to 00:05:00.</value>
    [AllowedRange("00:00:00", "00:05:00", Allowed = "00:00:00 (never wait) to 00:05:00")]
    public TimeSpan DiscoveryTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Errors found while reading configuration (kept for validation on start).</summary>
    internal List<string> ConfigurationErrors { get; } = [];

    /// <summary>The path of the configuration section last bound (for messages); <c>Mesh</c> when configured in code only.</summary>
    internal string SectionPath { get; set; } = SectionName;

    /// <summary>Whether a bound configuration section exists (a reload that loses it is refused).</summary>
    internal bool SectionFound { get; set; }

    /// <summary>The configuration path of each service read from configuration (for messages).</summary>
    internal Dictionary<string, string> ServicePaths { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The configuration key of service <paramref name="name"/>: where it was read from, or where it would be.</summary>
    internal string ServicePath(string name) =>
        ServicePaths.TryGetValue(name, out var path) ? path : $"{SectionPath}:Services:{name}";

    /// <summary>Services read from Microsoft.Extensions.ServiceDiscovery's configuration section.</summary>
    internal Dictionary<string, MeshServiceOptions> ServiceDiscoveryServices { get; } = new(StringComparer.OrdinalIgnoreCase);
}
