using System.Net;
using Mesh.Identity;
using Mesh.Testing.Identity;

namespace Mesh.Tests.Identity;

/// <summary>Real TLS handshakes on loopback between Kestrel (<see cref="MeshKestrelExtensions.UseMeshIdentity"/>) and an
/// HttpClient whose SocketsHttpHandler was configured by <see cref="MeshTlsClient"/>, or a deliberately misbehaving peer.</summary>
public sealed class MutualTlsTests : IDisposable
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
    public async Task Correct_svids_both_ways_are_accepted_and_the_server_sees_the_callers_spiffe_id()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        var answer = await server.GetWhoAmIAsync(client);

        Assert.Equal(Orders, answer.PeerId);
    }

    [Fact]
    public async Task Caller_spiffe_id_is_visible_over_http2_too()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        var answer = await server.GetWhoAmIAsync(client, HttpVersion.Version20);

        Assert.Equal(Orders, answer.PeerId);
        Assert.Equal("HTTP/2", answer.Protocol);
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
    public async Task Client_chain_with_an_intermediate_ca_is_completed_by_a_server_holding_the_same_intermediate()
    {
        // SslStream sends only the leaf of a client certificate chosen by the selection callback; a server whose own SVID
        // comes from the same intermediate (one SPIRE server, one cert-manager issuer) completes the chain with it.
        using var intermediate = _ca.CreateIntermediate();
        await using var server = await MeshTlsTestHost.StartMeshAsync(new MeshInMemoryIdentitySource(intermediate.IssueSvid(Catalog), _ca.Bundle), Orders);
        using var client = MeshTlsTestHost.MeshClient(new MeshInMemoryIdentitySource(intermediate.IssueSvid(Orders), _ca.Bundle), Catalog);

        var answer = await server.GetWhoAmIAsync(client);

        Assert.Equal(Orders, answer.PeerId);
    }

    [Fact]
    public async Task Client_chain_with_an_intermediate_ca_the_server_does_not_hold_is_refused_as_untrusted_issuer()
    {
        using var intermediate = _ca.CreateIntermediate();
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.MeshClient(new MeshInMemoryIdentitySource(intermediate.IssueSvid(Orders), _ca.Bundle), Catalog);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.UntrustedIssuer), await server.WaitForRefusalReasonAsync());
    }

    [Fact]
    public async Task Client_without_certificate_is_refused_as_no_certificate()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.PlainClient(null);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.NoCertificate), await server.WaitForRefusalReasonAsync());
    }

    [Fact]
    public async Task Client_signed_by_another_ca_is_refused_as_untrusted_issuer()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.PlainClient(_otherCa.IssueSvid(Orders).Certificate);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.UntrustedIssuer), await server.WaitForRefusalReasonAsync());
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
    public async Task Client_of_another_trust_domain_is_refused_as_wrong_trust_domain()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), "spiffe://mesh.test/*");
        using var client = MeshTlsTestHost.PlainClient(_ca.IssueSvid("spiffe://other.test/orders").Certificate);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.WrongTrustDomain), await server.WaitForRefusalReasonAsync());
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
    public async Task Expired_client_certificate_is_refused_as_expired()
    {
        var expired = _ca.IssueCertificate(new DevelopmentCertificateRequest(Orders) { NotBefore = DateTimeOffset.UtcNow.AddHours(-2), Lifetime = TimeSpan.FromHours(1) });
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.PlainClient(expired);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.Expired), await server.WaitForRefusalReasonAsync());
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
    public async Task Client_leaf_marked_ca_is_refused_as_leaf_is_ca()
    {
        var caLeaf = _ca.IssueCertificate(new DevelopmentCertificateRequest(Orders) { IsCertificateAuthority = true });
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.PlainClient(caLeaf);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.LeafIsCa), await server.WaitForRefusalReasonAsync());
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

    [Fact]
    public async Task Client_certificate_with_two_uri_sans_is_refused_as_multiple_uri_sans()
    {
        var twoSans = _ca.IssueCertificate(new DevelopmentCertificateRequest(Orders, "spiffe://mesh.test/admin"));
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.PlainClient(twoSans);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.MultipleUriSans), await server.WaitForRefusalReasonAsync());
    }

    [Fact]
    public async Task Caller_not_authorized_is_refused_as_not_authorized()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), "spiffe://mesh.test/ns/shop/*");
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource("spiffe://mesh.test/ns/ops/debugger"), Catalog);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.NotAuthorized), await server.WaitForRefusalReasonAsync());
    }

    [Fact]
    public async Task Caller_matching_a_prefix_pattern_is_accepted()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), "spiffe://mesh.test/ns/shop/*");
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource("spiffe://mesh.test/ns/shop/cart"), Catalog);

        Assert.Equal("spiffe://mesh.test/ns/shop/cart", (await server.GetWhoAmIAsync(client)).PeerId);
    }

    [Fact]
    public async Task Refusal_log_names_the_caller_and_the_accepted_identities()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource("spiffe://mesh.test/payments"), Catalog);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));
        await server.WaitForRefusalReasonAsync();

        var refusal = server.Logs.GetSnapshot().First(r => r.Id.Name == "PeerRefused");
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, refusal.Level);
        Assert.Contains("spiffe://mesh.test/payments", refusal.Message, StringComparison.Ordinal);
        Assert.Contains(Orders, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Server_without_authorized_clients_fails_at_configuration_naming_the_option()
    {
        var exception = Assert.Throws<InvalidOperationException>(() =>
        {
            var options = new Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions();
            options.Listen(IPAddress.Loopback, 0, listen => listen.UseMeshIdentity(o => o.IdentitySource = _ca.CreateIdentitySource(Catalog)));
        });

        Assert.Contains(nameof(MeshServerIdentityOptions.AuthorizedClients), exception.Message, StringComparison.Ordinal);
    }
}
