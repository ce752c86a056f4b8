using System.Diagnostics.Metrics;
using dotnet_etcd;
using Mesh.Discovery.Tests.TestSupport;
using Mesh.Identity;
using Mesh.Testing;
using Mesh.Testing.Identity;
using Mesh.Tests.Shared;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Discovery.Tests.Etcd;

/// <summary>
/// Anyone who can write to the registry must not be able to downgrade a service that requires mutual TLS to clear
/// text: a plain-http entry written into a real etcd next to the real mTLS replica receives nothing, is logged as a
/// Warning naming the source and the address, and is counted.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class EtcdDowngradeTests(EtcdServer etcd) : IClassFixture<EtcdServer>, IDisposable
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly string _directory = Directory.CreateTempSubdirectory("mesh-etcd-downgrade-").FullName;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_plain_http_entry_written_into_etcd_never_receives_the_requests_of_a_service_with_a_server_identity()
    {
        etcd.EnsureAvailable();
        await using var secure = await InProcessReplica.StartAsync("secure", new InProcessReplicaOptions
        {
            ConfigureHttps = listen => listen.UseMeshIdentity(o =>
            {
                o.IdentitySource = _ca.CreateIdentitySource("spiffe://mesh.test/payments");
                o.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/*"));
            }),
        }, Token);
        await using var impostor = await InProcessReplica.StartAsync("impostor", cancellationToken: Token);
        await using var later = await InProcessReplica.StartAsync("later", cancellationToken: Token);
        using var writer = new EtcdClient(etcd.Url);
        const string prefix = "/mesh/services/payments/";
        await writer.DeleteRangeAsync(prefix, cancellationToken: Token);
        await writer.PutAsync(prefix + "secure", $$"""{"Address": "{{secure.Address.ToString().TrimEnd('/')}}", "Weight": 1}""", cancellationToken: Token);
        var impostorAddress = impostor.Address.ToString().TrimEnd('/');
        await writer.PutAsync(prefix + "impostor", $$"""{"Address": "{{impostorAddress}}", "Weight": 100}""", cancellationToken: Token);

        var files = _ca.WriteIdentityFiles(_ca.IssueSvid("spiffe://mesh.test/storefront"), _directory);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Identity:CertificatePath"] = files.CertificatePath,
            ["Mesh:Identity:KeyPath"] = files.KeyPath,
            ["Mesh:Identity:TrustBundlePath"] = files.TrustBundlePath,
            ["Mesh:Discovery:Etcd:Endpoints"] = etcd.Url,
            ["Mesh:Services:payments:Discovery"] = "Etcd",
            ["Mesh:Services:payments:ServerIdentity"] = "spiffe://mesh.test/payments",
        });
        var logs = new FakeLogCollector();
        builder.Logging.AddProvider(new FakeLoggerProvider(logs));
        builder.Services.AddMetrics();
        builder.Services.AddMeshClient();
        builder.Services.AddMeshDiscovery();
        builder.Services.AddHttpClient("payments", c => c.BaseAddress = new Uri("http://payments")).AddMeshHandler();
        using var host = builder.Build();
        using var refused = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.discovery.endpoints.refused");
        await host.StartAsync(Token);
        var monitor = host.Services.GetRequiredService<MeshMonitor>();
        await MeshClientHost.WaitUntilAsync(() => monitor.GetService("payments").Endpoints.Count > 0, TimeSpan.FromSeconds(5), "the etcd list arrived");

        // A second write after the first list arrives through the watch.
        var laterAddress = later.Address.ToString().TrimEnd('/');
        await writer.PutAsync(prefix + "later", $$"""{"Address": "{{laterAddress}}", "Weight": 100}""", cancellationToken: Token);
        await MeshClientHost.WaitUntilAsync(() => logs.GetSnapshot().Count(r => r.Id.Name == "PlainHttpEndpointRefused") == 2, TimeSpan.FromSeconds(5), "the watched entry was refused");

        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("payments");
        for (var i = 0; i < 30; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "secret-token");
            using var response = await client.SendAsync(request, Token);
            response.EnsureSuccessStatusCode();
        }

        Assert.Equal(30, secure.RequestCount);
        Assert.Equal(0, impostor.RequestCount);
        Assert.Equal(0, later.RequestCount);
        Assert.Equal([secure.Address.ToString().TrimEnd('/')], monitor.GetService("payments").Endpoints.Select(e => e.Endpoint.Key));
        var warnings = logs.GetSnapshot().Where(r => r.Id.Name == "PlainHttpEndpointRefused").ToList();
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
        Assert.All(warnings, w => Assert.Contains("from Etcd", w.Message, StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Message.Contains(impostorAddress, StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Message.Contains(laterAddress, StringComparison.Ordinal));
        refused.RecordObservableInstruments();
        Assert.Equal(2, refused.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.All(refused.GetMeasurementSnapshot(), m => Assert.Equal("plain_http", m.Tags["error.type"]));

        await host.StopAsync(Token);
        await writer.DeleteRangeAsync(prefix, cancellationToken: Token);
    }

    public void Dispose()
    {
        _ca.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
