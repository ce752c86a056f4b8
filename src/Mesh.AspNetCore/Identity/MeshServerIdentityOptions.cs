namespace Mesh.Identity;

/// <summary>How a Kestrel endpoint configured with
/// <see cref="MeshKestrelExtensions.UseMeshIdentity(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions, Action{MeshServerIdentityOptions})"/>
/// authenticates and authorizes its callers.</summary>
public sealed class MeshServerIdentityOptions
{
    /// <summary>The callers to accept: exact IDs, prefixes (<c>spiffe://mesh.test/ns/shop/*</c>) or whole trust domains
    /// (<c>spiffe://mesh.test/*</c>). At least one is required; a caller matching none is refused at the handshake
    /// (<see cref="X509SvidFailureReason.NotAuthorized"/> or <see cref="X509SvidFailureReason.WrongTrustDomain"/>).
    /// This is the gate of the whole listener: every route accepts whoever passes it, unless the route narrows it with
    /// per-route authorization (<c>AddAuthentication().AddMesh()</c> and <c>RequireSpiffeId</c>), which can never widen it.</summary>
    public IList<SpiffeIdPattern> AuthorizedClients { get; } = [];

    /// <summary>The workload's identity.</summary>
    /// <value>Default: the <see cref="IMeshIdentitySource"/> registered in the application's services (see
    /// <c>AddMeshIdentity</c>).</value>
    public IMeshIdentitySource? IdentitySource { get; set; }

    /// <summary>How long a TLS handshake may take.</summary>
    /// <value>Default 10 seconds.</value>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock validity periods are checked against.</summary>
    /// <value>Default: the <see cref="System.TimeProvider"/> registered in the application's services, else <see cref="TimeProvider.System"/>.</value>
    public TimeProvider? TimeProvider { get; set; }
}
