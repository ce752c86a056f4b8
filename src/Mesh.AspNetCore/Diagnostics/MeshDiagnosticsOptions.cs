namespace Mesh.Diagnostics;

/// <summary>
/// Options of the mesh's diagnostics endpoints (<c>MapMeshDiagnostics()</c>): read from the <c>Diagnostics</c> key of the
/// mesh's configuration section (<c>Mesh:Diagnostics</c>), then changed by the delegate given to
/// <c>MapMeshDiagnostics</c>, and validated when the endpoints are mapped.
/// </summary>
public sealed class MeshDiagnosticsOptions
{
    /// <summary>The least and greatest <see cref="EventCapacity"/>.</summary>
    internal const int MinEventCapacity = 10, MaxEventCapacity = 10_000;

    /// <summary>Whether callers that are not on this machine may read the diagnostics (<c>AllowRemoteCallers</c>).</summary>
    /// <value>Default: <see langword="false"/>: only loopback callers (127.0.0.0/8, ::1) are answered, others get 403.
    /// A loopback request that carries <c>Forwarded</c> or <c>X-Forwarded-For</c> came through a proxy and counts as
    /// remote. Set it to <see langword="true"/> only with another guard, such as <c>RequireAuthorization()</c> on the
    /// endpoints <c>MapMeshDiagnostics</c> returns: they show the mesh's topology and its workload identity.</value>
    public bool AllowRemoteCallers { get; set; }

    /// <summary>How many health events (ejections, probes, returns, panic, discovery failures) the timeline keeps
    /// (<c>EventCapacity</c>); older ones are dropped.</summary>
    /// <value>Default: 200. Allowed: 10 to 10000.</value>
    public int EventCapacity { get; set; } = 200;
}
