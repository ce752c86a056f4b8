namespace Mesh.Identity.Internal;

/// <param name="peerId">The caller's verified ID.</param>
/// <param name="notAfter">When the caller's certificate expires: requests authenticated by the mesh scheme on this
/// connection after that are refused, however long the connection stays open.</param>
/// <param name="serial">The serial number of the caller's certificate (for logs).</param>
internal sealed class MeshPeerIdentityFeature(SpiffeId peerId, DateTimeOffset notAfter, string serial) : IMeshPeerIdentityFeature
{
    public SpiffeId PeerId { get; } = peerId;

    public DateTimeOffset NotAfter { get; } = notAfter;

    public string Serial { get; } = serial;
}
