using Mesh.Identity.Internal;
using Microsoft.Extensions.Primitives;

namespace Mesh.Identity;

/// <summary>An identity source set from code (tests, samples, or an identity obtained some other way). Call
/// <see cref="Update(MeshIdentity)"/> to rotate: new TLS connections use the new SVID and bundles at once. Thread-safe.</summary>
public sealed class MeshInMemoryIdentitySource : IMeshIdentitySource
{
    private readonly ChangeSignal _changed = new();
    private MeshIdentity _current;

    /// <summary>Creates the source.</summary>
    /// <param name="svid">The workload's SVID.</param>
    /// <param name="bundles">The trust bundles.</param>
    /// <exception cref="ArgumentException">The SVID does not validate against the bundle of its own trust domain.</exception>
    public MeshInMemoryIdentitySource(X509Svid svid, X509BundleSet bundles)
        : this(new MeshIdentity(svid, bundles))
    {
    }

    /// <summary>Creates the source.</summary>
    /// <param name="identity">The identity.</param>
    /// <exception cref="ArgumentException">The SVID does not validate against the bundle of its own trust domain.</exception>
    public MeshInMemoryIdentitySource(MeshIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        Check(identity);
        _current = identity;
    }

    /// <inheritdoc />
    public MeshIdentity Current => Volatile.Read(ref _current);

    /// <inheritdoc />
    public IChangeToken GetChangeToken() => _changed.GetToken();

    /// <summary>Replaces the identity; fires the change token.</summary>
    /// <param name="svid">The new SVID.</param>
    /// <param name="bundles">The new trust bundles.</param>
    /// <exception cref="ArgumentException">The SVID does not validate against the bundle of its own trust domain.</exception>
    public void Update(X509Svid svid, X509BundleSet bundles) => Update(new MeshIdentity(svid, bundles));

    /// <summary>Replaces the identity; fires the change token.</summary>
    /// <param name="identity">The new identity.</param>
    /// <exception cref="ArgumentException">The SVID does not validate against the bundle of its own trust domain.</exception>
    public void Update(MeshIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        Check(identity);
        Volatile.Write(ref _current, identity);
        _changed.Fire();
    }

    private static void Check(MeshIdentity identity)
    {
        if (!identity.Bundles.TryGetRoots(identity.Id.TrustDomain, out _))
        {
            return; // a workload may trust only other trust domains; nothing to check its own SVID against
        }

        var result = X509SvidValidator.Default.Validate(identity.Svid.Certificate, identity.Svid.Intermediates, identity.Bundles);
        if (!result.IsValid)
        {
            throw new ArgumentException($"The SVID {identity.Id} does not validate against the bundle of its own trust domain ({result.Reason}): {result.Message}", nameof(identity));
        }
    }
}
