using Mesh.Identity;
using Mesh.Testing.Identity;
using Mesh.Tests.TestSupport;

namespace Mesh.Tests.Identity;

/// <summary>The client's side of real TLS handshakes on loopback: an HttpClient whose SocketsHttpHandler was configured by
/// <see cref="MeshTlsClient"/> against a mesh server (Mesh.AspNetCore's <c>UseMeshIdentity</c>) or a deliberately
/// misbehaving one. The server's side is tested in Mesh.AspNetCore.Tests (<c>MutualTlsServerTests</c>).</summary>
public sealed class MutualTlsClientTests : IDisposable
{
    private const string Catalog = "spiffe://mesh.test/catalog";
    private const string Orders = "spiffe://mesh.test/orders";

    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly DevelopmentCertificateAuthority _otherCa = DevelopmentCertificateAuthority.Create("mesh.test");

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    private static async Task<SpiffeAuthenticationException> ClientRefusal(Task request)
    {
        var exception = await Assert.ThrowsAsync<HttpRequestException>(() => request);
        Assert.Equal(HttpRequestError.SecureConnectionError, exception.HttpRequestError);
        return Assert.IsType<SpiffeAuthenticationException>(exception.InnerException);
    }

    [Fact]
    public async Task Server_chain_with_an_intermediate_ca_is_sent_and_accepted()
    {
        using var intermediate = _ca.CreateIntermediate();
        var serverIdentity = new MeshInMemoryIdentitySource(intermediate.IssueSvid(Catalog), _ca.Bundle);
        await using var server = await MeshTlsTestHost.StartMeshAsync(serverIdentity, Orders);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        var answer = await server.GetWhoAmIAsync(client);

        Assert.Equal(Orders, answer.PeerId);
    }

    [Fact]
    public async Task Server_signed_by_another_ca_is_refused_as_untrusted_issuer()
    {
        await using var server = await MeshTlsTestHost.StartPlainAsync(_otherCa.IssueSvid(Catalog).Certificate);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        var refusal = await ClientRefusal(server.GetWhoAmIAsync(client));

        Assert.Equal(X509SvidFailureReason.UntrustedIssuer, refusal.Reason);
    }

    [Fact]
    public async Task Server_presenting_another_services_id_is_refused_with_an_exception_naming_expected_and_presented_identity()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource("spiffe://mesh.test/payments"), Orders);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        var refusal = await ClientRefusal(server.GetWhoAmIAsync(client));

        Assert.Equal(X509SvidFailureReason.NotAuthorized, refusal.Reason);
        Assert.Equal(Catalog, refusal.ExpectedIdentity);
        Assert.Equal("spiffe://mesh.test/payments", refusal.PresentedIdentity);
        Assert.Contains(Catalog, refusal.Message, StringComparison.Ordinal);
        Assert.Contains("spiffe://mesh.test/payments", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_of_another_trust_domain_is_refused_as_wrong_trust_domain()
    {
        await using var server = await MeshTlsTestHost.StartPlainAsync(_ca.IssueSvid("spiffe://other.test/catalog").Certificate);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        var refusal = await ClientRefusal(server.GetWhoAmIAsync(client));

        Assert.Equal(X509SvidFailureReason.WrongTrustDomain, refusal.Reason);
        Assert.Equal("spiffe://other.test/catalog", refusal.PresentedIdentity);
    }

    [Fact]
    public async Task Expired_server_certificate_is_refused_as_expired()
    {
        var expired = _ca.IssueCertificate(new DevelopmentCertificateRequest(Catalog) { NotBefore = DateTimeOffset.UtcNow.AddHours(-2), Lifetime = TimeSpan.FromHours(1) });
        await using var server = await MeshTlsTestHost.StartPlainAsync(expired);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        var refusal = await ClientRefusal(server.GetWhoAmIAsync(client));

        Assert.Equal(X509SvidFailureReason.Expired, refusal.Reason);
    }

    [Fact]
    public async Task Server_leaf_marked_ca_is_refused_as_leaf_is_ca()
    {
        var caLeaf = _ca.IssueCertificate(new DevelopmentCertificateRequest(Catalog) { IsCertificateAuthority = true });
        await using var server = await MeshTlsTestHost.StartPlainAsync(caLeaf);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        var refusal = await ClientRefusal(server.GetWhoAmIAsync(client));

        Assert.Equal(X509SvidFailureReason.LeafIsCa, refusal.Reason);
    }

    [Fact]
    public async Task Server_certificate_with_two_uri_sans_is_refused_as_multiple_uri_sans()
    {
        var twoSans = _ca.IssueCertificate(new DevelopmentCertificateRequest(Catalog, "spiffe://mesh.test/admin"));
        await using var server = await MeshTlsTestHost.StartPlainAsync(twoSans);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        var refusal = await ClientRefusal(server.GetWhoAmIAsync(client));

        Assert.Equal(X509SvidFailureReason.MultipleUriSans, refusal.Reason);
        Assert.Equal($"{Catalog}, spiffe://mesh.test/admin", refusal.PresentedIdentity);
    }
}
