using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;
using Mesh.Testing.Identity;

namespace Mesh.Testing.Tests.Identity;

public sealed class DevelopmentCertificateAuthorityTests : IDisposable
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "mesh-devca-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        _ca.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Root_is_a_self_signed_ecdsa_p256_ca()
    {
        var root = _ca.RootCertificate;

        Assert.Equal(root.Subject, root.Issuer);
        Assert.True(root.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.True(root.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
        using var key = root.GetECDsaPublicKey()!;
        Assert.Equal(256, key.KeySize);
        Assert.False(root.HasPrivateKey);
    }

    [Fact]
    public void Issued_svid_validates_against_the_bundle()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/catalog");

        var result = X509SvidValidator.Default.Validate(svid.Certificate, svid.Intermediates, _ca.Bundle);

        Assert.True(result.IsValid, result.Message);
        Assert.Equal("spiffe://mesh.test/catalog", result.PeerId?.ToString());
    }

    [Fact]
    public void Issued_svid_has_a_critical_ca_false_basic_constraints()
    {
        var constraints = _ca.IssueSvid("spiffe://mesh.test/catalog").Certificate.Extensions.OfType<X509BasicConstraintsExtension>().Single();

        Assert.False(constraints.CertificateAuthority);
        Assert.True(constraints.Critical);
    }

    [Fact]
    public void Issued_svid_has_a_critical_key_usage_with_only_digital_signature()
    {
        var keyUsage = _ca.IssueSvid("spiffe://mesh.test/catalog").Certificate.Extensions.OfType<X509KeyUsageExtension>().Single();

        Assert.Equal(X509KeyUsageFlags.DigitalSignature, keyUsage.KeyUsages);
        Assert.True(keyUsage.Critical);
    }

    [Fact]
    public void Issued_svid_allows_server_and_client_authentication()
    {
        var usages = _ca.IssueSvid("spiffe://mesh.test/catalog").Certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages;

        Assert.Contains(usages.Cast<Oid>(), o => o.Value == ServerAuth);
        Assert.Contains(usages.Cast<Oid>(), o => o.Value == ClientAuth);
    }

    [Fact]
    public void Issued_svid_links_its_authority_key_identifier_to_the_ca_subject_key_identifier()
    {
        var certificate = _ca.IssueSvid("spiffe://mesh.test/catalog").Certificate;
        var caKeyId = _ca.Certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifierBytes;

        var authorityKeyId = certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().Single().KeyIdentifier;

        Assert.NotNull(certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().SingleOrDefault());
        Assert.True(authorityKeyId.HasValue && authorityKeyId.Value.Span.SequenceEqual(caKeyId.Span));
    }

    [Fact]
    public void Issued_svid_is_short_lived_and_ecdsa_p256()
    {
        var clock = new FixedTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var ca = DevelopmentCertificateAuthority.Create("mesh.test", timeProvider: clock);

        var certificate = ca.IssueSvid("spiffe://mesh.test/catalog", TimeSpan.FromMinutes(30)).Certificate;

        Assert.Equal(clock.GetUtcNow().AddMinutes(29), new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero));
        using var key = certificate.GetECDsaPrivateKey()!;
        Assert.Equal(256, key.KeySize);
    }

    [Fact]
    public void Intermediate_ca_issues_svids_carrying_it_as_their_chain()
    {
        using var intermediate = _ca.CreateIntermediate();

        var svid = intermediate.IssueSvid("spiffe://mesh.test/catalog");

        Assert.Equal(intermediate.Certificate.Thumbprint, Assert.Single(svid.Intermediates).Thumbprint);
        Assert.True(X509SvidValidator.Default.Validate(svid.Certificate, svid.Intermediates, intermediate.Bundle).IsValid);
    }

    [Fact]
    public void Request_defaults_give_a_valid_svid_certificate()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog"));

        Assert.True(X509SvidValidator.Default.Validate(certificate, null, _ca.Bundle).IsValid);
    }

    [Fact]
    public void Request_in_the_past_gives_an_expired_certificate()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog")
        {
            NotBefore = DateTimeOffset.UtcNow.AddHours(-2),
            Lifetime = TimeSpan.FromHours(1),
        });

        Assert.Equal(X509SvidFailureReason.Expired, X509SvidValidator.Default.Validate(certificate, null, _ca.Bundle).Reason);
    }

    [Fact]
    public void Request_for_a_ca_leaf_gives_a_leaf_marked_ca()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog") { IsCertificateAuthority = true });

        Assert.Equal(X509SvidFailureReason.LeafIsCa, X509SvidValidator.Default.Validate(certificate, null, _ca.Bundle).Reason);
    }

    [Fact]
    public void Request_with_two_uris_gives_two_uri_sans()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/a", "spiffe://mesh.test/b"));

        var result = X509SvidValidator.Default.Validate(certificate, null, _ca.Bundle);

        Assert.Equal(X509SvidFailureReason.MultipleUriSans, result.Reason);
        Assert.Equal("spiffe://mesh.test/a, spiffe://mesh.test/b", result.PresentedIdentity);
    }

    [Fact]
    public void Svid_for_another_trust_domain_can_be_issued_to_test_refusals()
    {
        var svid = _ca.IssueSvid("spiffe://other.test/catalog");

        Assert.Equal("other.test", svid.Id.TrustDomain);
    }

    [Fact]
    public void Written_files_are_pem_the_file_source_reads()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/catalog");

        var options = _ca.WriteIdentityFiles(svid, _directory);
        using var source = new MeshFileIdentitySource(options);

        Assert.Equal(svid.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(options.KeyPath!), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", File.ReadAllText(options.TrustBundlePath!), StringComparison.Ordinal);
        Assert.Equal(Path.Combine(_directory, "svid.pem"), options.CertificatePath);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Written_key_file_is_accessible_by_its_owner_only()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes do not apply on Windows.");

        var options = _ca.WriteIdentityFiles(_ca.IssueSvid("spiffe://mesh.test/catalog"), _directory);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(options.KeyPath!));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Rewritten_key_file_stays_accessible_by_its_owner_only()
    {
        // A rotation replaces the file (written aside, then renamed): the new file must not inherit a looser mode.
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes do not apply on Windows.");
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid("spiffe://mesh.test/catalog"), _directory);
        File.SetUnixFileMode(options.KeyPath!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        _ca.WriteIdentityFiles(_ca.IssueSvid("spiffe://mesh.test/catalog"), _directory);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(options.KeyPath!));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Written_certificate_and_bundle_keep_the_usual_mode_of_new_files()
    {
        // Only the key is secret; certificates and bundles are public, and other processes (a probe, a sidecar) may read them.
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes do not apply on Windows.");
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid("spiffe://mesh.test/catalog"), _directory);
        var reference = Path.Combine(_directory, "reference.txt");
        File.WriteAllText(reference, "a new file under the process's umask");

        Assert.Equal(File.GetUnixFileMode(reference), File.GetUnixFileMode(options.CertificatePath!));
        Assert.Equal(File.GetUnixFileMode(reference), File.GetUnixFileMode(options.TrustBundlePath!));
    }

    [Fact]
    public void Written_files_of_an_intermediate_hold_the_chain_and_the_root_bundle()
    {
        using var intermediate = _ca.CreateIntermediate();
        var svid = intermediate.IssueSvid("spiffe://mesh.test/catalog");

        var options = intermediate.WriteIdentityFiles(svid, _directory);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(options.CertificatePath!);
        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPemFile(options.TrustBundlePath!);

        Assert.Equal([svid.Certificate.Thumbprint, intermediate.Certificate.Thumbprint], chain.Select(c => c.Thumbprint));
        Assert.Equal(_ca.RootCertificate.Thumbprint, Assert.Single(bundle).Thumbprint);
    }

    [Fact]
    public void Invalid_trust_domain_is_refused()
    {
        Assert.Throws<ArgumentException>(() => DevelopmentCertificateAuthority.Create("Mesh.Test"));
    }

    // This project does not reference Microsoft.Extensions.TimeProvider.Testing; a fixed clock is all this needs.
    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
