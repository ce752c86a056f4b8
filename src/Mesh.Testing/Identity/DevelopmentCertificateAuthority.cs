using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;

namespace Mesh.Testing.Identity;

/// <summary>
/// A certificate authority for development, tests, samples and demos: an ECDSA P-256 root for one SPIFFE trust domain
/// that issues short-lived X.509-SVIDs with the extensions the SPIFFE standard asks for (a single URI SAN, key usage
/// critical with digitalSignature, extended key usage serverAuth and clientAuth, basic constraints CA=false, subject and
/// authority key identifiers), writes them as PEM files for <see cref="MeshFileIdentitySource"/>, and on request issues
/// the bad certificates that refusal tests need. Never use it in production. Thread-safe; dispose to release the CA key.
/// </summary>
public sealed class DevelopmentCertificateAuthority : IDisposable
{
    /// <summary>The file name <see cref="WriteIdentityFiles(X509Svid, string)"/> gives the certificate chain.</summary>
    public const string CertificateFileName = "svid.pem";

    /// <summary>The file name <see cref="WriteIdentityFiles(X509Svid, string)"/> gives the private key.</summary>
    public const string KeyFileName = "svid.key";

    /// <summary>The file name <see cref="WriteIdentityFiles(X509Svid, string)"/> gives the trust bundle.</summary>
    public const string BundleFileName = "bundle.pem";

    private const string SubjectAltNameOid = "2.5.29.17";
    private static readonly Asn1Tag s_uriTag = new(TagClass.ContextSpecific, 6);

    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2 _publicCertificate;
    private readonly DevelopmentCertificateAuthority? _parent;
    private readonly TimeProvider _timeProvider;
    private X509BundleSet? _bundle;

    private DevelopmentCertificateAuthority(string trustDomain, X509Certificate2 certificate, DevelopmentCertificateAuthority? parent, TimeProvider timeProvider)
    {
        TrustDomain = trustDomain;
        _certificate = certificate;
        _publicCertificate = X509CertificateLoader.LoadCertificate(certificate.RawData);
        _parent = parent;
        _timeProvider = timeProvider;
    }

    /// <summary>The trust domain this CA issues SVIDs for, such as <c>mesh.test</c>.</summary>
    public string TrustDomain { get; }

    /// <summary>This CA's certificate (without its private key).</summary>
    public X509Certificate2 Certificate => _publicCertificate;

    /// <summary>The root certificate of the trust domain (this CA's, or its root's for an intermediate), without private key.</summary>
    public X509Certificate2 RootCertificate => _parent?.RootCertificate ?? _publicCertificate;

    /// <summary>The trust bundle of this CA's trust domain: just its root.</summary>
    public X509BundleSet Bundle => LazyInitializer.EnsureInitialized(ref _bundle, () => X509BundleSet.Create(TrustDomain, [RootCertificate]));

    /// <summary>Creates a root CA for a trust domain.</summary>
    /// <param name="trustDomain">The trust domain, such as <c>mesh.test</c>.</param>
    /// <param name="lifetime">How long the root is valid; default 30 days.</param>
    /// <param name="timeProvider">The clock validity periods start from; <see cref="TimeProvider.System"/> by default.</param>
    /// <returns>The CA.</returns>
    public static DevelopmentCertificateAuthority Create(string trustDomain = "mesh.test", TimeSpan? lifetime = null, TimeProvider? timeProvider = null)
    {
        if (!SpiffeId.IsValidTrustDomain(trustDomain, out var message))
        {
            throw new ArgumentException(message, nameof(trustDomain));
        }

        timeProvider ??= TimeProvider.System;
        var now = timeProvider.GetUtcNow();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = CreateCaRequest($"Mesh SDK development root CA ({trustDomain})", trustDomain, key);
        using var created = request.CreateSelfSigned(now.AddDays(-1), now + (lifetime ?? TimeSpan.FromDays(30)));
        return new DevelopmentCertificateAuthority(trustDomain, ForTls(created), null, timeProvider);
    }

    /// <summary>Creates an intermediate CA signed by this one, for the same trust domain; its SVIDs carry it as their chain.</summary>
    /// <param name="name">A name for its subject.</param>
    /// <returns>The intermediate CA.</returns>
    public DevelopmentCertificateAuthority CreateIntermediate(string name = "intermediate")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var now = _timeProvider.GetUtcNow();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = CreateCaRequest($"Mesh SDK development {name} CA ({TrustDomain})", TrustDomain, key);
        var notAfter = Min(now.AddDays(7), new DateTimeOffset(_certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero));
        var notBefore = Max(now.AddHours(-12), new DateTimeOffset(_certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero));
        using var signed = request.Create(_certificate, notBefore, notAfter, NewSerial());
        using var withKey = signed.CopyWithPrivateKey(key);
        return new DevelopmentCertificateAuthority(TrustDomain, ForTls(withKey), this, _timeProvider);
    }

    /// <summary>Issues a valid X.509-SVID for <paramref name="spiffeId"/>.</summary>
    /// <param name="spiffeId">The workload's ID; it may belong to another trust domain than this CA's (to test such refusals).</param>
    /// <param name="lifetime">How long it is valid; default 1 hour.</param>
    /// <returns>The SVID, with its private key and this CA's chain.</returns>
    public X509Svid IssueSvid(SpiffeId spiffeId, TimeSpan? lifetime = null)
    {
        ArgumentNullException.ThrowIfNull(spiffeId);
        var certificate = IssueCertificate(new DevelopmentCertificateRequest(spiffeId.ToString()) { Lifetime = lifetime ?? TimeSpan.FromHours(1) });
        return new X509Svid(certificate, Chain());
    }

    /// <summary>Issues a valid X.509-SVID for the SPIFFE ID given as text.</summary>
    /// <param name="spiffeId">The workload's ID, such as <c>spiffe://mesh.test/catalog</c>.</param>
    /// <param name="lifetime">How long it is valid; default 1 hour.</param>
    /// <returns>The SVID.</returns>
    public X509Svid IssueSvid(string spiffeId, TimeSpan? lifetime = null) => IssueSvid(SpiffeId.Parse(spiffeId), lifetime);

    /// <summary>Issues a certificate exactly as requested, valid or deliberately not.</summary>
    /// <param name="request">What to put in the certificate.</param>
    /// <returns>The certificate with its (ephemeral) private key.</returns>
    public X509Certificate2 IssueCertificate(DevelopmentCertificateRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var now = _timeProvider.GetUtcNow();
        var notBefore = request.NotBefore ?? now.AddMinutes(-1);
        var notAfter = notBefore + request.Lifetime;
        var caNotBefore = new DateTimeOffset(_certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        var caNotAfter = new DateTimeOffset(_certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        notBefore = Max(notBefore, caNotBefore);
        notAfter = Min(notAfter, caNotAfter);

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddOrganizationName("SPIFFE");
        subject.AddCommonName(request.UriSans.Count > 0 ? request.UriSans[0] : "no URI SAN");
        var certificateRequest = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        var extensions = certificateRequest.CertificateExtensions;
        extensions.Add(new X509BasicConstraintsExtension(request.IsCertificateAuthority, false, 0, critical: true));
        if (request.KeyUsage is { } keyUsage)
        {
            extensions.Add(new X509KeyUsageExtension(keyUsage, request.KeyUsageCritical));
        }

        extensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication"), new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication")], critical: false));
        extensions.Add(new X509SubjectKeyIdentifierExtension(certificateRequest.PublicKey, critical: false));
        extensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (request.UriSans.Count > 0)
        {
            extensions.Add(UriSanExtension(request.UriSans));
        }

        using var signed = certificateRequest.Create(_certificate, notBefore, notAfter, NewSerial());
        using var withKey = signed.CopyWithPrivateKey(key);
        return ForTls(withKey);
    }

    /// <summary>Issues an SVID and wraps it, with this CA's bundle, in an in-memory identity source.</summary>
    /// <param name="spiffeId">The workload's ID.</param>
    /// <param name="lifetime">How long the SVID is valid; default 1 hour.</param>
    /// <returns>The source.</returns>
    public MeshInMemoryIdentitySource CreateIdentitySource(string spiffeId, TimeSpan? lifetime = null) =>
        new(IssueSvid(spiffeId, lifetime), Bundle);

    /// <summary>Writes an SVID as the three PEM files <see cref="MeshFileIdentitySource"/> reads (<see cref="CertificateFileName"/>,
    /// <see cref="KeyFileName"/> and <see cref="BundleFileName"/>), each replaced atomically (written aside, then renamed over
    /// the old file), as spiffe-helper does. On Unix the key file is created with mode 0600 (owner only), as
    /// <see cref="MeshFileIdentitySource"/> expects (it warns about keys that group or others can access).</summary>
    /// <param name="svid">The SVID.</param>
    /// <param name="directory">The directory; created when missing.</param>
    /// <returns>Options naming the three files.</returns>
    public MeshIdentityOptions WriteIdentityFiles(X509Svid svid, string directory)
    {
        ArgumentNullException.ThrowIfNull(svid);
        return WriteIdentityFiles(svid.Certificate, svid.Intermediates, Bundle.TrustDomains.SelectMany(td => Bundle.TryGetRoots(td, out var r) ? r : []), directory);
    }

    /// <summary>Writes any certificate with its key (for example a deliberately bad one) and this CA's bundle as PEM files.</summary>
    /// <param name="certificate">The certificate, with its private key.</param>
    /// <param name="directory">The directory; created when missing.</param>
    /// <returns>Options naming the three files.</returns>
    public MeshIdentityOptions WriteIdentityFiles(X509Certificate2 certificate, string directory) =>
        WriteIdentityFiles(certificate, Chain(), [RootCertificate], directory);

    /// <summary>Writes a certificate with its key, its intermediates and a bundle as PEM files, each replaced atomically;
    /// the key file with mode 0600 on Unix.</summary>
    /// <param name="certificate">The leaf, with its private key (ECDSA or RSA).</param>
    /// <param name="intermediates">Intermediate CA certificates written after the leaf.</param>
    /// <param name="bundleRoots">The roots written to the bundle file.</param>
    /// <param name="directory">The directory; created when missing.</param>
    /// <returns>Options naming the three files.</returns>
    public static MeshIdentityOptions WriteIdentityFiles(X509Certificate2 certificate, IEnumerable<X509Certificate2> intermediates, IEnumerable<X509Certificate2> bundleRoots, string directory)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(intermediates);
        ArgumentNullException.ThrowIfNull(bundleRoots);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory.CreateDirectory(directory);
        var options = new MeshIdentityOptions
        {
            CertificatePath = Path.Combine(directory, CertificateFileName),
            KeyPath = Path.Combine(directory, KeyFileName),
            TrustBundlePath = Path.Combine(directory, BundleFileName),
        };

        var chainPem = string.Concat(new[] { certificate }.Concat(intermediates).Select(c => c.ExportCertificatePem() + "\n"));
        var bundlePem = string.Concat(bundleRoots.Select(c => c.ExportCertificatePem() + "\n"));
        var keyPem = ExportKeyPem(certificate);
        WriteAtomically(options.TrustBundlePath, bundlePem, ownerOnly: false);
        WriteAtomically(options.KeyPath, keyPem, ownerOnly: true);
        WriteAtomically(options.CertificatePath, chainPem, ownerOnly: false);
        return options;
    }

    /// <summary>Releases the CA's private key.</summary>
    public void Dispose()
    {
        _certificate.Dispose();
        _publicCertificate.Dispose();
    }

    private X509Certificate2[] Chain()
    {
        var chain = new List<X509Certificate2>();
        for (var ca = this; ca._parent is not null; ca = ca._parent)
        {
            chain.Add(ca._publicCertificate);
        }

        return [.. chain];
    }

    private static CertificateRequest CreateCaRequest(string commonName, string trustDomain, ECDsa key)
    {
        var subject = new X500DistinguishedNameBuilder();
        subject.AddOrganizationName("Mesh SDK development");
        subject.AddCommonName(commonName);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(UriSanExtension([SpiffeId.FromPath(trustDomain, "").ToString()]));
        return request;
    }

    /// <summary>The subjectAltName extension with URI names written as given (so tests can also write invalid ones).</summary>
    private static X509Extension UriSanExtension(IEnumerable<string> uris)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var uri in uris)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, uri, s_uriTag);
            }
        }

        return new X509Extension(SubjectAltNameOid, writer.Encode(), critical: false);
    }

    private static byte[] NewSerial()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        serial[0] |= 0x01; // no leading zero byte
        return serial;
    }

    /// <summary>An independent copy whose key every platform's TLS stack can use (Windows' cannot use ephemeral keys)
    /// and that can be exported to PEM.</summary>
    private static X509Certificate2 ForTls(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);

    private static string ExportKeyPem(X509Certificate2 certificate)
    {
        using var ecdsa = certificate.GetECDsaPrivateKey();
        if (ecdsa is not null)
        {
            return ecdsa.ExportPkcs8PrivateKeyPem();
        }

        using var rsa = certificate.GetRSAPrivateKey();
        return rsa?.ExportPkcs8PrivateKeyPem() ?? throw new ArgumentException("The certificate has no ECDSA or RSA private key to write.", nameof(certificate));
    }

    /// <summary>Writes aside, then renames over <paramref name="path"/>. A key file (<paramref name="ownerOnly"/>) is created
    /// with mode 0600 on Unix, so it is never readable by group or others, not even for a moment.</summary>
    private static void WriteAtomically(string path, string content, bool ownerOnly)
    {
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (ownerOnly && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var writer = new StreamWriter(temporary, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), options))
        {
            writer.Write(content);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
