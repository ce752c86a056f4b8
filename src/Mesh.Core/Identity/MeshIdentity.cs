namespace Mesh.Identity;

/// <summary>A consistent snapshot of a workload's identity: its own SVID and the trust bundles it validates peers with.</summary>
public sealed class MeshIdentity
{
    /// <summary>Creates a snapshot.</summary>
    /// <param name="svid">The workload's X.509-SVID.</param>
    /// <param name="bundles">The trust bundles (at least the workload's own trust domain).</param>
    public MeshIdentity(X509Svid svid, X509BundleSet bundles)
    {
        ArgumentNullException.ThrowIfNull(svid);
        ArgumentNullException.ThrowIfNull(bundles);
        Svid = svid;
        Bundles = bundles;
    }

    /// <summary>The workload's X.509-SVID.</summary>
    public X509Svid Svid { get; }

    /// <summary>The trust bundles peers are validated with.</summary>
    public X509BundleSet Bundles { get; }

    /// <summary>The workload's SPIFFE ID.</summary>
    public SpiffeId Id => Svid.Id;
}
