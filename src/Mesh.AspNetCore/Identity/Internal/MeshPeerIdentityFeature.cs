namespace Mesh.Identity.Internal;

internal sealed class MeshPeerIdentityFeature(SpiffeId peerId) : IMeshPeerIdentityFeature
{
    public SpiffeId PeerId { get; } = peerId;
}
