using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity;

/// <summary>
/// A workload's own X.509-SVID: its leaf certificate with the private key, the intermediate CA certificates sent with it,
/// and the SPIFFE ID read from the leaf's single URI SAN. Immutable.
/// </summary>
/// <remarks>
/// The certificates are not disposed by this type nor by the identity sources when they rotate: a TLS handshake that
/// started with the previous SVID may still be using them; the runtime releases them when they are no longer referenced.
/// </remarks>
public sealed class X509Svid
{
    private SslStreamCertificateContext? _certificateContext;

    /// <summary>Creates an SVID from a leaf certificate that has its private key.</summary>
    /// <param name="certificate">The leaf certificate, with its private key.</param>
    /// <param name="intermediates">The intermediate CA certificates to send with it (leaf first, root excluded), or <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">The certificate has no private key, or is not an X.509-SVID (the message says why).</exception>
    public X509Svid(X509Certificate2 certificate, IEnumerable<X509Certificate2>? intermediates = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException($"The certificate '{certificate.Subject}' (serial {certificate.SerialNumber}) has no private key; a workload's SVID needs one.", nameof(certificate));
        }

        var failure = X509SvidValidator.CheckLeaf(certificate, out var id, out _);
        if (failure is not null)
        {
            throw new ArgumentException($"The certificate is not an X.509-SVID ({failure.Reason}): {failure.Message}", nameof(certificate));
        }

        Id = id!;
        Certificate = certificate;
        Intermediates = Array.AsReadOnly(intermediates?.ToArray() ?? []);
    }

    /// <summary>The workload's SPIFFE ID.</summary>
    public SpiffeId Id { get; }

    /// <summary>The leaf certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The intermediate CA certificates sent with the leaf (may be empty).</summary>
    public IReadOnlyList<X509Certificate2> Intermediates { get; }

    /// <summary>When the leaf expires.</summary>
    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);

    /// <summary>The certificate and its intermediates as one server credential for <see cref="SslStream"/>
    /// (<see cref="SslServerAuthenticationOptions.ServerCertificateContext"/>), built once per SVID so that every
    /// handshake sends the full chain without building it again. Mesh.AspNetCore's <c>UseMeshIdentity</c> uses it.</summary>
    public SslStreamCertificateContext CertificateContext =>
        LazyInitializer.EnsureInitialized(ref _certificateContext,
            () => SslStreamCertificateContext.Create(Certificate, new X509Certificate2Collection(Intermediates.ToArray()), offline: true));

    /// <summary>Reads an SVID from PEM text: the certificate chain (leaf first, then intermediates) and the private key
    /// (<c>PRIVATE KEY</c>, <c>EC PRIVATE KEY</c> or <c>RSA PRIVATE KEY</c>; not encrypted).</summary>
    /// <param name="certificateChainPem">One or more <c>CERTIFICATE</c> blocks, leaf first.</param>
    /// <param name="privateKeyPem">The leaf's private key.</param>
    /// <returns>The SVID.</returns>
    /// <exception cref="CryptographicException">The PEM text is malformed, holds no certificate, or the key does not belong to the leaf.</exception>
    /// <exception cref="ArgumentException">The leaf is not an X.509-SVID.</exception>
    public static X509Svid FromPem(ReadOnlySpan<char> certificateChainPem, ReadOnlySpan<char> privateKeyPem)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPem(certificateChainPem);
        if (all.Count == 0)
        {
            throw new CryptographicException("The certificate PEM holds no CERTIFICATE block.");
        }

        // The first block is the leaf; CreateFromPem pairs it with the key and throws when they do not match.
        var leafPem = PemEncoding.WriteString("CERTIFICATE", all[0].RawData);
        X509Certificate2 leaf;
        try
        {
            leaf = X509Certificate2.CreateFromPem(leafPem, privateKeyPem);
        }
        catch (ArgumentException e)
        {
            throw new CryptographicException($"The private key does not belong to the leaf certificate '{all[0].Subject}' (serial {all[0].SerialNumber}), the first CERTIFICATE block: {e.Message}", e);
        }

        if (OperatingSystem.IsWindows())
        {
            // SChannel cannot use ephemeral keys; a PKCS#12 round trip gives the key a store SslStream can use.
            using var ephemeral = leaf;
            leaf = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
        }

        all[0].Dispose();
        return new X509Svid(leaf, all.Skip(1));
    }

    /// <summary>Reads an SVID from PEM files (see <see cref="FromPem(ReadOnlySpan{char}, ReadOnlySpan{char})"/>).</summary>
    /// <param name="certificatePath">The certificate chain file, leaf first.</param>
    /// <param name="keyPath">The private key file.</param>
    /// <returns>The SVID.</returns>
    public static X509Svid FromPemFiles(string certificatePath, string keyPath)
    {
        ArgumentNullException.ThrowIfNull(certificatePath);
        ArgumentNullException.ThrowIfNull(keyPath);
        return FromPem(File.ReadAllText(certificatePath), File.ReadAllText(keyPath));
    }

    /// <inheritdoc />
    public override string ToString() => $"{Id} (serial {Certificate.SerialNumber}, expires {NotAfter:u})";
}
