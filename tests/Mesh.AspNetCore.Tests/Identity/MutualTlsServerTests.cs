using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mesh.Identity;
using Mesh.Testing.Identity;
using Mesh.Tests.TestSupport;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>The server's side of real TLS handshakes on loopback: Kestrel with <see cref="MeshKestrelExtensions.UseMeshIdentity"/>
/// against a mesh client (<see cref="MeshTlsClient"/>) or a deliberately misbehaving one.</summary>
public sealed class MutualTlsServerTests : IDisposable
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
    public async Task Client_of_another_trust_domain_is_refused_as_wrong_trust_domain()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), "spiffe://mesh.test/*");
        using var client = MeshTlsTestHost.PlainClient(_ca.IssueSvid("spiffe://other.test/orders").Certificate);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.WrongTrustDomain), await server.WaitForRefusalReasonAsync());
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
    public async Task Client_leaf_marked_ca_is_refused_as_leaf_is_ca()
    {
        var caLeaf = _ca.IssueCertificate(new DevelopmentCertificateRequest(Orders) { IsCertificateAuthority = true });
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.PlainClient(caLeaf);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));

        Assert.Equal(nameof(X509SvidFailureReason.LeafIsCa), await server.WaitForRefusalReasonAsync());
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
        Assert.Equal(MeshKestrelExtensions.LoggerCategory, refusal.Category);
        Assert.Contains("spiffe://mesh.test/payments", refusal.Message, StringComparison.Ordinal);
        Assert.Contains(Orders, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refusal_log_names_both_endpoints_of_the_connection()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.PlainClient(_otherCa.IssueSvid(Orders).Certificate);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(client));
        await server.WaitForRefusalReasonAsync();

        var refusal = server.Logs.GetSnapshot().First(r => r.Id.Name == "PeerRefused");
        Assert.Equal($"127.0.0.1:{server.Address.Port}", refusal.GetStructuredStateValue("LocalEndPoint"));
        Assert.StartsWith("127.0.0.1:", refusal.GetStructuredStateValue("RemoteEndPoint"), StringComparison.Ordinal);
        Assert.Contains($"to 127.0.0.1:{server.Address.Port}: UntrustedIssuer", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_handshakes_are_counted_by_reason_and_listener_port()
    {
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var refusals = new MetricCollector<long>(server.Services.GetRequiredService<IMeterFactory>(), MeshTelemetry.Name, "mesh.server.tls.handshake.failures");
        using var untrusted = MeshTlsTestHost.PlainClient(_otherCa.IssueSvid(Orders).Certificate);
        using var anonymous = MeshTlsTestHost.PlainClient(null);
        using var accepted = MeshTlsTestHost.MeshClient(_ca.CreateIdentitySource(Orders), Catalog);

        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(untrusted));
        await Assert.ThrowsAsync<HttpRequestException>(() => server.GetWhoAmIAsync(anonymous));
        await server.GetWhoAmIAsync(accepted);
        await refusals.WaitForMeasurementsAsync(2, TimeSpan.FromSeconds(10));

        // SocketsHttpHandler retries a request whose new connection the server closed (up to 3 times), so one refused
        // request can be several refused handshakes: each is counted, exactly as each is logged.
        var measurements = refusals.GetMeasurementSnapshot();
        Assert.Equal(
            [nameof(X509SvidFailureReason.NoCertificate), nameof(X509SvidFailureReason.UntrustedIssuer)],
            measurements.Select(m => (string)m.Tags[MeshTelemetry.Attributes.TlsFailureReason]!).Distinct().Order(StringComparer.Ordinal));
        Assert.All(measurements, m => Assert.Equal(server.Address.Port, m.Tags[MeshTelemetry.Attributes.ServerPort]));
        Assert.Equal(server.Logs.GetSnapshot().Count(r => r.Id.Name == "PeerRefused"), measurements.Count);
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

    [Fact]
    public void Server_without_an_identity_source_fails_at_configuration_naming_what_to_add()
    {
        var exception = Assert.Throws<InvalidOperationException>(() =>
        {
            var options = new Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions { ApplicationServices = new ServiceCollection().BuildServiceProvider() };
            options.Listen(IPAddress.Loopback, 0, listen => listen.UseMeshIdentity(o => o.AuthorizedClients.Add(SpiffeIdPattern.Parse(Orders))));
        });

        Assert.Contains("AddMeshIdentity", exception.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(MeshServerIdentityOptions.IdentitySource), exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_that_did_not_arrive_over_mesh_mutual_tls_has_no_peer_spiffe_id()
    {
        Assert.Null(new DefaultHttpContext().GetPeerSpiffeId());
    }
}
