using System.Security.Cryptography.X509Certificates;

namespace Mesh.Testing.Identity;

/// <summary>
/// What <see cref="DevelopmentCertificateAuthority.IssueCertificate(DevelopmentCertificateRequest)"/> puts in a certificate.
/// The defaults give a correct X.509-SVID; change them to get the deliberately bad certificates tests need
/// (expired, CA=true leaf, two URI SANs, no URI SAN, wrong key usage).
/// </summary>
public sealed class DevelopmentCertificateRequest
{
    /// <summary>Creates a request for a certificate carrying the given URI SANs (written as given, not validated).</summary>
    /// <param name="uriSans">The URI subject alternative names, such as <c>spiffe://mesh.test/catalog</c>. A valid SVID has exactly one.</param>
    public DevelopmentCertificateRequest(params string[] uriSans)
    {
        ArgumentNullException.ThrowIfNull(uriSans);
        UriSans = [.. uriSans];
    }

    /// <summary>The URI subject alternative names, written as given.</summary>
    public IList<string> UriSans { get; }

    /// <summary>How long the certificate is valid from <see cref="NotBefore"/>.</summary>
    /// <value>Default 1 hour.</value>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The start of the validity period.</summary>
    /// <value>Default: one minute before now (tolerates small clock differences). Set it two hours back with a one-hour
    /// <see cref="Lifetime"/> for an expired certificate, or into the future for one that is not valid yet.</value>
    public DateTimeOffset? NotBefore { get; set; }

    /// <summary>Whether the basic constraints say CA=true (wrong for an SVID leaf).</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool IsCertificateAuthority { get; set; }

    /// <summary>The key usage; <see langword="null"/> leaves the extension out.</summary>
    /// <value>Default <see cref="X509KeyUsageFlags.DigitalSignature"/>.</value>
    public X509KeyUsageFlags? KeyUsage { get; set; } = X509KeyUsageFlags.DigitalSignature;

    /// <summary>Whether the key usage extension is marked critical.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool KeyUsageCritical { get; set; } = true;
}
