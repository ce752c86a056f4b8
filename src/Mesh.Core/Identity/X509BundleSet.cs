using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity;

/// <summary>
/// Trust bundles by trust domain: for each trust domain, the root certificates that may sign its X.509-SVIDs.
/// A peer's certificate is only ever checked against the bundle of the trust domain in its own SPIFFE ID,
/// never against a pool merged from several trust domains. Immutable; <see cref="With(string, IEnumerable{X509Certificate2})"/>
/// returns a new set.
/// </summary>
public sealed class X509BundleSet
{
    private readonly FrozenDictionary<string, X509Certificate2[]> _bundles;

    private X509BundleSet(FrozenDictionary<string, X509Certificate2[]> bundles)
    {
        _bundles = bundles;
    }

    /// <summary>A set without any bundle: every peer is refused with <see cref="X509SvidFailureReason.UnknownTrustDomain"/>.</summary>
    public static X509BundleSet Empty { get; } = new(FrozenDictionary<string, X509Certificate2[]>.Empty);

    /// <summary>The trust domains that have a bundle.</summary>
    public IReadOnlyCollection<string> TrustDomains => _bundles.Keys;

    /// <summary>Creates a set holding one trust domain's bundle.</summary>
    /// <param name="trustDomain">The trust domain, such as <c>mesh.test</c>.</param>
    /// <param name="roots">Its root certificates (at least one).</param>
    /// <returns>The set.</returns>
    /// <exception cref="ArgumentException">The trust domain is invalid or there is no root.</exception>
    public static X509BundleSet Create(string trustDomain, IEnumerable<X509Certificate2> roots) => Empty.With(trustDomain, roots);

    /// <summary>Creates a set holding one trust domain's bundle read from PEM text (one or more <c>CERTIFICATE</c> blocks).</summary>
    /// <param name="trustDomain">The trust domain the roots belong to.</param>
    /// <param name="pem">The PEM text.</param>
    /// <returns>The set.</returns>
    /// <exception cref="ArgumentException">The trust domain is invalid or the text holds no certificate.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">The PEM text is malformed.</exception>
    public static X509BundleSet FromPem(string trustDomain, ReadOnlySpan<char> pem)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPem(pem);
        return Create(trustDomain, roots);
    }

    /// <summary>Returns a set with <paramref name="trustDomain"/>'s bundle added, or replaced when it was present.</summary>
    /// <param name="trustDomain">The trust domain, such as <c>partner.test</c>.</param>
    /// <param name="roots">Its root certificates (at least one).</param>
    /// <returns>The new set; this one is unchanged.</returns>
    /// <exception cref="ArgumentException">The trust domain is invalid or there is no root.</exception>
    public X509BundleSet With(string trustDomain, IEnumerable<X509Certificate2> roots)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        ArgumentNullException.ThrowIfNull(roots);
        if (!SpiffeId.IsValidTrustDomain(trustDomain, out var message))
        {
            throw new ArgumentException(message, nameof(trustDomain));
        }

        var array = roots.ToArray();
        if (array.Length == 0)
        {
            throw new ArgumentException($"The bundle of trust domain '{trustDomain}' holds no certificate; a bundle needs at least one root.", nameof(roots));
        }

        var copy = new Dictionary<string, X509Certificate2[]>(_bundles, StringComparer.Ordinal) { [trustDomain] = array };
        return new X509BundleSet(copy.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>Gets the roots of a trust domain.</summary>
    /// <param name="trustDomain">The trust domain.</param>
    /// <param name="roots">Its roots, when the set has its bundle.</param>
    /// <returns><see langword="true"/> when the set has a bundle for <paramref name="trustDomain"/>.</returns>
    public bool TryGetRoots(string trustDomain, [NotNullWhen(true)] out IReadOnlyList<X509Certificate2>? roots)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        if (_bundles.TryGetValue(trustDomain, out var array))
        {
            roots = Array.AsReadOnly(array);
            return true;
        }

        roots = null;
        return false;
    }

    internal bool TryGetRootArray(string trustDomain, [NotNullWhen(true)] out X509Certificate2[]? roots) =>
        _bundles.TryGetValue(trustDomain, out roots);

    /// <summary>Whether both sets hold the same certificates for the same trust domains.</summary>
    internal bool ContentEquals(X509BundleSet other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (other._bundles.Count != _bundles.Count)
        {
            return false;
        }

        foreach (var (trustDomain, roots) in _bundles)
        {
            if (!other._bundles.TryGetValue(trustDomain, out var otherRoots) || otherRoots.Length != roots.Length)
            {
                return false;
            }

            for (var i = 0; i < roots.Length; i++)
            {
                if (!roots[i].RawDataMemory.Span.SequenceEqual(otherRoots[i].RawDataMemory.Span))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>The trust domains with a bundle, for messages.</summary>
    internal string DescribeTrustDomains() =>
        _bundles.Count == 0 ? "(none)" : string.Join(", ", _bundles.Keys.Order(StringComparer.Ordinal));
}
