using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity.Internal;

/// <summary>
/// The certificates a peer's chain may be built through: those the peer sent, plus the intermediates of the workload's
/// own SVID. SslStream sends only the leaf of a client certificate chosen by a selection callback, so a server completes
/// a client's chain with the intermediates it holds itself (the common case: both SVIDs come from the same SPIRE server
/// or issuer). These are chain-building candidates only; the trust anchors remain the roots of the peer's trust domain.
/// </summary>
internal static class ChainHints
{
    public static IEnumerable<X509Certificate2>? Combine(X509Certificate2Collection? sentByPeer, IReadOnlyList<X509Certificate2> own)
    {
        if (own.Count == 0)
        {
            return sentByPeer;
        }

        if (sentByPeer is null || sentByPeer.Count == 0)
        {
            return own;
        }

        return sentByPeer.Concat(own);
    }
}
