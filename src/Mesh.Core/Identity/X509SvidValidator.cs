using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity.Internal;

namespace Mesh.Identity;

/// <summary>
/// Validates a peer's X.509-SVID the way go-spiffe does: exactly one URI SAN holding a valid SPIFFE ID, a leaf that is
/// not a CA, a critical key usage with digitalSignature and without keyCertSign or cRLSign, and a chain built with
/// <see cref="X509ChainTrustMode.CustomRootTrust"/> against the bundle of the trust domain <em>in the peer's ID</em> only;
/// then, optionally, authorizes the ID against accepted <see cref="SpiffeIdPattern"/>s. Thread-safe and stateless.
/// </summary>
/// <remarks>
/// A successful chain verification is remembered per validator (keyed by the SHA-256 of the leaf and the bundle set
/// instance, at most 1024 entries) together with the validity window of the whole chain, so
/// that the many connections a peer opens with the same SVID cost one chain build; the leaf checks, the validity period
/// and the authorization still run every time. Failures are never cached, and a new bundle set (rotation) starts afresh.
/// </remarks>
public sealed class X509SvidValidator
{
    /// <summary>How many verified chains a validator remembers before it forgets them all.</summary>
    internal const int ChainCacheCapacity = 1024;

    private readonly TimeProvider _timeProvider;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<LeafHash, VerifiedChain> _verified = new();

    /// <summary>Creates a validator.</summary>
    /// <param name="timeProvider">The clock validity periods are checked against; <see cref="TimeProvider.System"/> by default.</param>
    public X509SvidValidator(TimeProvider? timeProvider = null)
    {
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>A validator on the system clock.</summary>
    public static X509SvidValidator Default { get; } = new();

    /// <summary>Validates a peer's certificate and, when <paramref name="authorized"/> is given, authorizes its SPIFFE ID.</summary>
    /// <param name="certificate">The peer's leaf certificate, or <see langword="null"/> when it presented none.</param>
    /// <param name="intermediates">Further certificates the peer sent (intermediate CAs), or <see langword="null"/>.</param>
    /// <param name="bundles">The trust bundles; only the bundle of the peer's trust domain is used.</param>
    /// <param name="authorized">The identities to accept, or <see langword="null"/> to accept any ID the bundles authenticate.</param>
    /// <returns>The outcome, with a reason and a message when the SVID is refused.</returns>
    public X509SvidValidationResult Validate(
        X509Certificate2? certificate,
        IEnumerable<X509Certificate2>? intermediates,
        X509BundleSet bundles,
        IReadOnlyList<SpiffeIdPattern>? authorized = null)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        if (certificate is null)
        {
            return Fail(X509SvidFailureReason.NoCertificate,
                "No certificate was presented. Every workload in the mesh must present its X.509-SVID: configure Mesh:Identity (or an IMeshIdentitySource) on the peer.",
                null, null);
        }

        var leafFailure = CheckLeaf(certificate, out var id, out var presented);
        if (leafFailure is not null)
        {
            return leafFailure;
        }

        if (authorized is { Count: > 0 } && !SharesTrustDomain(authorized, id!))
        {
            return Fail(X509SvidFailureReason.WrongTrustDomain,
                $"The peer presented {id} from trust domain '{id!.TrustDomain}', but only {DescribeTrustDomains(authorized)} is accepted here (expected {Describe(authorized)}).",
                id, presented);
        }

        if (!bundles.TryGetRootArray(id!.TrustDomain, out var roots))
        {
            return Fail(X509SvidFailureReason.UnknownTrustDomain,
                $"There is no trust bundle for trust domain '{id.TrustDomain}' (the peer presented {id}); bundles are known for: {bundles.DescribeTrustDomains()}. " +
                "Add that trust domain's bundle (federation) or issue the peer's SVID from a trusted trust domain.",
                id, presented);
        }

        var chainFailure = CheckChain(certificate, intermediates, roots, bundles, id, presented);
        if (chainFailure is not null)
        {
            return chainFailure;
        }

        if (authorized is { Count: > 0 } && !SpiffeIdPattern.IsMatchAny(authorized, id))
        {
            return Fail(X509SvidFailureReason.NotAuthorized,
                $"The peer proved the identity {id}, which is not authorized here; accepted: {Describe(authorized)}.",
                id, presented);
        }

        return new X509SvidValidationResult(X509SvidFailureReason.None, $"Accepted {id}.", id, presented);
    }

    /// <summary>The structural checks of a leaf (URI SAN, CA flag, key usage), shared with <see cref="X509Svid"/>.</summary>
    internal static X509SvidValidationResult? CheckLeaf(X509Certificate2 certificate, out SpiffeId? id, out string? presented)
    {
        id = null;
        presented = null;
        var who = DescribeCertificate(certificate);
        if (!UriSanReader.TryRead(certificate, out var uris))
        {
            return Fail(X509SvidFailureReason.InvalidSpiffeId,
                $"The subject alternative name extension of {who} is malformed, so no SPIFFE ID can be read. Reissue the certificate.", null, null);
        }

        if (uris.Count == 0)
        {
            return Fail(X509SvidFailureReason.NoUriSan,
                $"{Capitalize(who)} has no URI subject alternative name, so it carries no SPIFFE ID. An X.509-SVID has exactly one URI SAN, such as spiffe://mesh.test/catalog.",
                null, null);
        }

        presented = string.Join(", ", uris);
        if (uris.Count > 1)
        {
            return Fail(X509SvidFailureReason.MultipleUriSans,
                $"{Capitalize(who)} has {uris.Count} URI subject alternative names ({presented}); an X.509-SVID has exactly one. Reissue it with a single SPIFFE ID.",
                null, presented);
        }

        var error = SpiffeId.Validate(uris[0], out _, out var position);
        if (error != SpiffeIdError.None)
        {
            return Fail(X509SvidFailureReason.InvalidSpiffeId,
                $"The URI SAN of {who} is not a valid SPIFFE ID: {SpiffeId.Describe(uris[0], error, position)}", null, presented);
        }

        id = SpiffeId.Parse(uris[0]);
        foreach (var extension in certificate.Extensions)
        {
            if (extension is not X509BasicConstraintsExtension basicConstraints)
            {
                continue;
            }

            // The BCL decodes the extension's value lazily and throws on a malformed one.
            bool? isCa;
            try
            {
                isCa = basicConstraints.CertificateAuthority;
            }
            catch (System.Security.Cryptography.CryptographicException)
            {
                isCa = null;
            }

            if (isCa is not false)
            {
                return Fail(X509SvidFailureReason.LeafIsCa, isCa is null
                        ? $"The certificate of {id} has a malformed basic constraints extension, so it cannot be told whether it is a CA; a workload's X.509-SVID must not be a CA. Reissue it with CA=false."
                        : $"The certificate of {id} is a CA certificate (basic constraints CA=true); a workload's X.509-SVID must not be a CA. Reissue it with CA=false.",
                    id, presented);
            }
        }

        var keyUsage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        X509KeyUsageFlags? usages;
        try
        {
            usages = keyUsage?.KeyUsages;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            usages = null;
        }

        string? keyUsageProblem = keyUsage switch
        {
            null => "has no key usage extension",
            _ when usages is null => "has a malformed key usage extension",
            { Critical: false } => "has a key usage extension that is not marked critical",
            _ when (usages & X509KeyUsageFlags.DigitalSignature) == 0 => "has a key usage without digitalSignature",
            _ when (usages & (X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign)) != 0 => "has a key usage that allows keyCertSign or cRLSign",
            _ => null,
        };
        if (keyUsageProblem is not null)
        {
            return Fail(X509SvidFailureReason.BadKeyUsage,
                $"The certificate of {id} {keyUsageProblem}; an X.509-SVID needs a critical key usage with digitalSignature and without keyCertSign or cRLSign. Reissue it.",
                id, presented);
        }

        return null;
    }

    private X509SvidValidationResult? CheckChain(X509Certificate2 leaf, IEnumerable<X509Certificate2>? intermediates, X509Certificate2[] roots, X509BundleSet bundles, SpiffeId id, string? presented)
    {
        var now = _timeProvider.GetUtcNow();
        Span<byte> hash = stackalloc byte[32];
        var key = leaf.TryGetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256, hash, out _)
            ? System.Runtime.InteropServices.MemoryMarshal.Read<LeafHash>(hash)
            : default;
        if (_verified.TryGetValue(key, out var verified) && ReferenceEquals(verified.Bundles, bundles) &&
            now >= verified.NotBefore && now <= verified.NotAfter)
        {
            return null;
        }

        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(roots);
        if (intermediates is not null)
        {
            foreach (var intermediate in intermediates)
            {
                if (!ReferenceEquals(intermediate, leaf))
                {
                    policy.ExtraStore.Add(intermediate);
                }
            }
        }

        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = now.UtcDateTime;
        policy.VerificationTimeIgnored = false;

        try
        {
            bool built;
            try
            {
                built = chain.Build(leaf);
            }
            catch (System.Security.Cryptography.CryptographicException e)
            {
                // The platform's chain builder throws on some malformed certificates the loader accepted.
                return Fail(X509SvidFailureReason.UntrustedIssuer,
                    $"The certificate of {id} could not be checked against the trust bundle of trust domain '{id.TrustDomain}': the chain builder failed on it ({e.Message}). " +
                    "The certificate (or one sent with it) is malformed: reissue it.",
                    id, presented);
            }

            if (built)
            {
                Remember(key, bundles, chain);
                return null;
            }

            var trustProblems = X509ChainStatusFlags.NoError;
            foreach (var status in chain.ChainStatus)
            {
                trustProblems |= status.Status;
            }

            trustProblems &= ~(X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.NotTimeNested);
            if (trustProblems != X509ChainStatusFlags.NoError)
            {
                return Fail(X509SvidFailureReason.UntrustedIssuer,
                    $"The certificate of {id} (issued by '{leaf.Issuer}') does not chain to the trust bundle of trust domain '{id.TrustDomain}' ({trustProblems}). " +
                    $"It was signed by a CA that trust domain does not trust: issue the peer's SVID from that trust domain's CA, or fix the bundle.",
                    id, presented);
            }

            for (var i = 0; i < chain.ChainElements.Count; i++)
            {
                var element = chain.ChainElements[i].Certificate;
                var what = i == 0 ? $"The certificate of {id}" : $"The CA certificate '{element.Subject}' in the chain of {id}";
                var notAfter = new DateTimeOffset(element.NotAfter.ToUniversalTime(), TimeSpan.Zero);
                var notBefore = new DateTimeOffset(element.NotBefore.ToUniversalTime(), TimeSpan.Zero);
                if (now > notAfter)
                {
                    return Fail(X509SvidFailureReason.Expired,
                        string.Create(CultureInfo.InvariantCulture, $"{what} expired at {notAfter:u} (now {now:u}). The peer must rotate its SVID: check its identity provider (SPIRE agent, cert-manager, spiffe-helper)."),
                        id, presented);
                }

                if (now < notBefore)
                {
                    return Fail(X509SvidFailureReason.NotYetValid,
                        string.Create(CultureInfo.InvariantCulture, $"{what} is not valid before {notBefore:u} (now {now:u}). Check the clocks of both machines."),
                        id, presented);
                }
            }

            return Fail(X509SvidFailureReason.Expired,
                $"The chain of {id} has a certificate outside its validity period.", id, presented);
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, leaf))
                {
                    element.Certificate.Dispose();
                }
            }
        }
    }

    private void Remember(LeafHash key, X509BundleSet bundles, X509Chain chain)
    {
        if (key == default)
        {
            return;
        }

        var notBefore = DateTimeOffset.MinValue;
        var notAfter = DateTimeOffset.MaxValue;
        foreach (var element in chain.ChainElements)
        {
            var elementNotBefore = new DateTimeOffset(element.Certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
            var elementNotAfter = new DateTimeOffset(element.Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
            notBefore = elementNotBefore > notBefore ? elementNotBefore : notBefore;
            notAfter = elementNotAfter < notAfter ? elementNotAfter : notAfter;
        }

        if (_verified.Count >= ChainCacheCapacity)
        {
            _verified.Clear();
        }

        _verified[key] = new VerifiedChain(bundles, notBefore, notAfter);
    }

    /// <summary>The SHA-256 of a leaf certificate.</summary>
    private readonly record struct LeafHash(ulong A, ulong B, ulong C, ulong D);

    /// <summary>A chain that was verified against <see cref="Bundles"/>, and the window in which all its certificates are valid.</summary>
    private sealed record VerifiedChain(X509BundleSet Bundles, DateTimeOffset NotBefore, DateTimeOffset NotAfter);

    private static bool SharesTrustDomain(IReadOnlyList<SpiffeIdPattern> authorized, SpiffeId id)
    {
        for (var i = 0; i < authorized.Count; i++)
        {
            if (id.IsMemberOf(authorized[i].TrustDomain))
            {
                return true;
            }
        }

        return false;
    }

    internal static string Describe(IReadOnlyList<SpiffeIdPattern> patterns) => patterns.Count == 1 ? patterns[0].ToString() : string.Join(" or ", patterns);

    private static string DescribeTrustDomains(IReadOnlyList<SpiffeIdPattern> patterns)
    {
        var domains = patterns.Select(p => p.TrustDomain).Distinct(StringComparer.Ordinal).ToArray();
        return domains.Length == 1 ? $"trust domain '{domains[0]}'" : $"trust domains {string.Join(", ", domains.Select(d => $"'{d}'"))}";
    }

    private static string DescribeCertificate(X509Certificate2 certificate) =>
        $"the certificate '{certificate.Subject}' (serial {certificate.SerialNumber})";

    private static string Capitalize(string text) => char.ToUpperInvariant(text[0]) + text[1..];

    private static X509SvidValidationResult Fail(X509SvidFailureReason reason, string message, SpiffeId? id, string? presented) =>
        new(reason, message, id, presented);
}
