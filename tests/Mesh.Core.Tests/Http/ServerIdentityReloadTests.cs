using Mesh.Identity;
using Mesh.Testing;
using Mesh.Testing.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Tests.Http;

/// <summary>A changed <c>ServerIdentity</c> takes effect for the next request: the service gets a new mTLS pool, and
/// connections already pooled under the old identity are not reused. Real Kestrel replica, real handshakes.</summary>
public sealed class ServerIdentityReloadTests : IDisposable
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_a_reload_to_another_server_identity_the_pooled_connection_is_not_reused()
    {
        await using var replica = await InProcessReplica.StartAsync("catalog", new InProcessReplicaOptions
        {
            ConfigureHttps = listen => listen.UseMeshIdentity(o =>
            {
                o.IdentitySource = _ca.CreateIdentitySource("spiffe://mesh.test/catalog");
                o.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/*"));
            }),
        }, Token);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:ServerIdentity"] = "spiffe://mesh.test/catalog",
            ["Mesh:Services:catalog:Endpoints:0"] = replica.Address.ToString(),
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "0",
        });
        builder.Services.AddMeshIdentity(_ca.CreateIdentitySource("spiffe://mesh.test/storefront"));
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        using var host = builder.Build();
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        (await client.GetAsync("/", Token)).EnsureSuccessStatusCode();

        builder.Configuration["Mesh:Services:catalog:ServerIdentity"] = "spiffe://mesh.test/payments";
        ((IConfigurationRoot)builder.Configuration).Reload();
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/", Token));

        Assert.Contains("spiffe://mesh.test/payments", refused.Message, StringComparison.Ordinal);
        builder.Configuration["Mesh:Services:catalog:ServerIdentity"] = "spiffe://mesh.test/catalog";
        ((IConfigurationRoot)builder.Configuration).Reload();
        (await client.GetAsync("/", Token)).EnsureSuccessStatusCode();
        await host.StopAsync(Token);
    }

    public void Dispose() => _ca.Dispose();
}
