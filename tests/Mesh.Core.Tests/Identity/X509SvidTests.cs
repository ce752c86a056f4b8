using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;
using Mesh.Testing.Identity;

namespace Mesh.Tests.Identity;

public sealed class X509SvidTests : IDisposable
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");

    public void Dispose() => _ca.Dispose();

    [Fact]
    public void Svid_reads_its_id_from_the_uri_san()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/catalog");

        Assert.Equal(SpiffeId.Parse("spiffe://mesh.test/catalog"), svid.Id);
    }

    [Fact]
    public void Certificate_without_private_key_is_refused()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/catalog");
        using var publicOnly = X509CertificateLoader.LoadCertificate(svid.Certificate.RawData);

        var exception = Assert.Throws<ArgumentException>(() => new X509Svid(publicOnly));

        Assert.Contains("private key", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Certificate_that_is_not_an_svid_is_refused_with_the_reason()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/a", "spiffe://mesh.test/b"));

        var exception = Assert.Throws<ArgumentException>(() => new X509Svid(certificate));

        Assert.Contains(nameof(X509SvidFailureReason.MultipleUriSans), exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pem_chain_and_key_round_trip_with_intermediates()
    {
        using var intermediate = _ca.CreateIntermediate();
        var svid = intermediate.IssueSvid("spiffe://mesh.test/catalog");
        var chainPem = svid.Certificate.ExportCertificatePem() + "\n" + svid.Intermediates[0].ExportCertificatePem();
        using var key = svid.Certificate.GetECDsaPrivateKey()!;

        var read = X509Svid.FromPem(chainPem, key.ExportPkcs8PrivateKeyPem());

        Assert.Equal(svid.Id, read.Id);
        Assert.Equal(svid.Certificate.Thumbprint, read.Certificate.Thumbprint);
        Assert.True(read.Certificate.HasPrivateKey);
        Assert.Equal(svid.Intermediates[0].Thumbprint, Assert.Single(read.Intermediates).Thumbprint);
    }

    [Fact]
    public void Pem_key_that_does_not_match_the_certificate_is_refused()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/catalog");
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.ThrowsAny<CryptographicException>(() => X509Svid.FromPem(svid.Certificate.ExportCertificatePem(), otherKey.ExportPkcs8PrivateKeyPem()));
    }
}
