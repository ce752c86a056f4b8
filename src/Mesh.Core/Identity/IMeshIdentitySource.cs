using Microsoft.Extensions.Primitives;

namespace Mesh.Identity;

/// <summary>
/// Where a workload's identity comes from: PEM files rotated by cert-manager or spiffe-helper
/// (<see cref="MeshFileIdentitySource"/>), code (<see cref="MeshInMemoryIdentitySource"/>), or another provider.
/// Implementations are thread-safe; <see cref="Current"/> is read at every TLS handshake, so it must be cheap.
/// </summary>
public interface IMeshIdentitySource
{
    /// <summary>The current identity. Never <see langword="null"/>; replaced (not mutated) when the identity rotates.</summary>
    MeshIdentity Current { get; }

    /// <summary>A token that fires once <see cref="Current"/> has been replaced; take a new token after it fires.</summary>
    /// <returns>The change token.</returns>
    IChangeToken GetChangeToken();
}
