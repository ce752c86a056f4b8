using Microsoft.AspNetCore.Http;

namespace Mesh.Identity;

/// <summary>Reads the caller's SPIFFE identity on a server configured with
/// <see cref="MeshKestrelExtensions.UseMeshIdentity(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions, Action{MeshServerIdentityOptions})"/>.</summary>
public static class MeshHttpContextExtensions
{
    /// <summary>The caller's verified SPIFFE ID, or <see langword="null"/> when the request did not arrive over a mesh mTLS connection.</summary>
    /// <param name="context">The request's context.</param>
    /// <returns>The caller's ID, or <see langword="null"/>.</returns>
    public static SpiffeId? GetPeerSpiffeId(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<IMeshPeerIdentityFeature>()?.PeerId;
    }
}
