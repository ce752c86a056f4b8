namespace Mesh.Identity;

/// <summary>The verified SPIFFE identity of the peer of a connection accepted by
/// <see cref="MeshKestrelExtensions.UseMeshIdentity(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions, Action{MeshServerIdentityOptions})"/>;
/// a connection feature, visible from each request's <c>HttpContext.Features</c>.</summary>
public interface IMeshPeerIdentityFeature
{
    /// <summary>The caller's SPIFFE ID, proven by its X.509-SVID and authorized.</summary>
    SpiffeId PeerId { get; }
}
