namespace Mesh.Identity;

/// <summary>What a <see cref="SpiffeIdPattern"/> matches.</summary>
public enum SpiffeIdPatternKind
{
    /// <summary>Exactly one ID, such as <c>spiffe://mesh.test/catalog</c>.</summary>
    Exact = 0,

    /// <summary>Every ID below a path, such as <c>spiffe://mesh.test/ns/shop/*</c> (matches <c>/ns/shop/catalog</c> and deeper, not <c>/ns/shop</c> itself).</summary>
    Prefix,

    /// <summary>Every ID of a trust domain, written <c>spiffe://mesh.test/*</c>.</summary>
    TrustDomain,
}
