using Grpc.Health.V1;
using Mesh.Identity;
using Mesh.Testing;
using Mesh.Testing.Identity;
using Mesh.Tests.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using GrpcHealth = Grpc.Health.V1.Health;

namespace Mesh.Tests.Http;

/// <summary>
/// The scheme of the logical URI chooses among a service's endpoints as Microsoft.Extensions.ServiceDiscovery does
/// (<c>https+http://</c> prefers https, <c>http+https://</c> http, <c>https://</c> takes https only), and MESD's named
/// endpoints are their own services (<c>http://_grpc.catalog</c>). A fresh host per scenario configured the way
/// docs/configuration.md says, real Kestrel replicas (plain and mutual TLS with a development CA), public API only.
/// </summary>
public sealed class SchemePreferenceTests : IAsyncLifetime
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly string _directory = Directory.CreateTempSubdirectory("mesh-schemes-").FullName;
    private InProcessReplica _secure = null!;
    private InProcessReplica _plain = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _secure = await InProcessReplica.StartAsync("secure", SecureOptions(grpc: false), Token);
        _plain = await InProcessReplica.StartAsync("plain", cancellationToken: Token);
    }

    /// <summary>A replica with mutual TLS (identity spiffe://mesh.test/payments from the development CA).</summary>
    private InProcessReplicaOptions SecureOptions(bool grpc) => new()
    {
        EnableGrpc = grpc,
        ConfigureHttps = listen => listen.UseMeshIdentity(o =>
        {
            o.IdentitySource = _ca.CreateIdentitySource("spiffe://mesh.test/payments");
            o.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/*"));
        }),
    };

    /// <summary>The workload's identity as the docs configure it (PEM files under <c>Mesh:Identity</c>), so that the
    /// mesh can reach the https replica over mutual TLS.</summary>
    private Dictionary<string, string?> Settings(params (string Key, string Value)[] more)
    {
        var files = _ca.WriteIdentityFiles(_ca.IssueSvid("spiffe://mesh.test/storefront"), _directory);
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Identity:CertificatePath"] = files.CertificatePath,
            ["Mesh:Identity:KeyPath"] = files.KeyPath,
            ["Mesh:Identity:TrustBundlePath"] = files.TrustBundlePath,
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    private (string, string) MixedPayments(int i, InProcessReplica replica) => ($"Mesh:Services:payments:Endpoints:{i}", Address(replica));

    private static string Address(InProcessReplica replica) => replica.Address.ToString().TrimEnd('/');

    private static async Task<IHost> StartAsync(Dictionary<string, string?> settings, string baseAddress, Action<IServiceCollection>? more = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("client", c => c.BaseAddress = new Uri(baseAddress)).AddMeshHandler();
        more?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync(Token);
        return host;
    }

    private static async Task<Dictionary<string, int>> SendAsync(IHost host, int count)
    {
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("client");
        var report = await TrafficDriver.RunAsync(client, TestTraffic.Requests(count), Token);
        report.AssertNoFailures();
        return report.Replicas.ToDictionary(r => r.Replica, r => (int)r.Requests);
    }

    [Fact]
    public async Task Https_plus_http_sends_every_request_to_the_https_endpoints_of_a_mixed_service()
    {
        using var host = await StartAsync(Settings(MixedPayments(0, _plain), MixedPayments(1, _secure)), "https+http://payments");

        var served = await SendAsync(host, 20);

        Assert.Equal(20, served.GetValueOrDefault("secure"));
        Assert.Equal(0, _plain.RequestCount);
    }

    [Fact]
    public async Task Https_plus_http_falls_back_to_http_when_the_service_has_no_https_endpoint()
    {
        using var host = await StartAsync(Settings(MixedPayments(0, _plain)), "https+http://payments");

        var served = await SendAsync(host, 10);

        Assert.Equal(10, served.GetValueOrDefault("plain"));
    }

    [Fact]
    public async Task Http_plus_https_sends_every_request_to_the_http_endpoints_of_a_mixed_service()
    {
        using var host = await StartAsync(Settings(MixedPayments(0, _plain), MixedPayments(1, _secure)), "http+https://payments");

        var served = await SendAsync(host, 20);

        Assert.Equal(20, served.GetValueOrDefault("plain"));
        Assert.Equal(0, _secure.RequestCount);
    }

    [Fact]
    public async Task Https_never_reaches_a_plain_http_endpoint_and_fails_when_the_service_has_only_those()
    {
        using var mixed = await StartAsync(Settings(MixedPayments(0, _plain), MixedPayments(1, _secure)), "https://payments");
        using var plainOnly = await StartAsync(Settings(MixedPayments(0, _plain)), "https://payments");

        var served = await SendAsync(mixed, 20);
        var error = await Assert.ThrowsAsync<MeshNoEndpointsException>(() =>
            plainOnly.Services.GetRequiredService<IHttpClientFactory>().CreateClient("client").GetAsync("/", Token));

        Assert.Equal(20, served.GetValueOrDefault("secure"));
        Assert.Equal(0, _plain.RequestCount);
        Assert.Contains("asks for https only", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_http_on_a_service_of_the_mesh_configuration_still_uses_every_endpoint()
    {
        using var host = await StartAsync(Settings(MixedPayments(0, _plain), MixedPayments(1, _secure), ("Mesh:Services:payments:LoadBalancer", "RoundRobin")), "http://payments");

        var served = await SendAsync(host, 20);

        Assert.Equal(10, served.GetValueOrDefault("plain"));
        Assert.Equal(10, served.GetValueOrDefault("secure"));
    }

    [Fact]
    public async Task A_service_of_the_Services_section_takes_http_for_http_and_https_for_https_plus_http_as_MESD_does()
    {
        // What .NET Aspire writes: one http and one https endpoint per service (here on two replicas, to tell them apart).
        var settings = Settings(("Services:payments:http:0", Address(_plain)), ("Services:payments:https:0", Address(_secure)));
        using var http = await StartAsync(settings, "http://payments");
        using var httpsFirst = await StartAsync(settings, "https+http://payments");

        var viaHttp = await SendAsync(http, 10);
        var viaHttpsFirst = await SendAsync(httpsFirst, 10);

        Assert.Equal(10, viaHttp.GetValueOrDefault("plain"));
        Assert.Equal(10, viaHttpsFirst.GetValueOrDefault("secure"));
        Assert.Equal(10, _plain.RequestCount);
        Assert.Equal(10, _secure.RequestCount);
    }

    [Fact]
    public async Task A_named_endpoint_of_the_Services_section_is_addressed_by_its_underscore_host_and_only_so()
    {
        await using var named = await InProcessReplica.StartAsync("named", cancellationToken: Token);
        var settings = Settings(("Services:payments:http:0", Address(_plain)), ("Services:payments:dashboard:0", Address(named)));
        using var dashboard = await StartAsync(settings, "http://_dashboard.payments");
        using var service = await StartAsync(settings, "http://payments");

        var viaName = await SendAsync(dashboard, 10);
        var viaService = await SendAsync(service, 10);

        Assert.Equal(10, viaName.GetValueOrDefault("named"));
        Assert.Equal(10, viaService.GetValueOrDefault("plain"));
        Assert.Equal(10, named.RequestCount);
    }

    [Fact]
    public async Task A_grpc_client_reaches_a_named_grpc_endpoint_and_https_grpc_stays_on_tls()
    {
        await using var plainGrpc = await InProcessReplica.StartAsync("plain-grpc", new InProcessReplicaOptions { EnableGrpc = true }, Token);
        await using var secureGrpc = await InProcessReplica.StartAsync("secure-grpc", SecureOptions(grpc: true), Token);
        var settings = Settings(
            ("Services:payments:grpc:0", Address(plainGrpc)),
            ("Mesh:Services:payments:Endpoints:0", Address(plainGrpc)),
            ("Mesh:Services:payments:Endpoints:1", Address(secureGrpc)));
        using var host = await StartAsync(settings, "http://payments", services =>
        {
            services.AddGrpcClient<GrpcHealth.HealthClient>("named", o => o.Address = new Uri("http://_grpc.payments")).AddMeshHandler();
            services.AddGrpcClient<GrpcHealth.HealthClient>("secure", o => o.Address = new Uri("https://payments")).AddMeshHandler();
        });
        var factory = host.Services.GetRequiredService<Grpc.Net.ClientFactory.GrpcClientFactory>();

        var viaName = await CallAsync(factory.CreateClient<GrpcHealth.HealthClient>("named"), 6);
        var viaHttps = await CallAsync(factory.CreateClient<GrpcHealth.HealthClient>("secure"), 6);

        Assert.All(viaName, id => Assert.Equal("plain-grpc", id));
        Assert.All(viaHttps, id => Assert.Equal("secure-grpc", id));
    }

    private static async Task<List<string>> CallAsync(GrpcHealth.HealthClient client, int count)
    {
        var answeredBy = new List<string>();
        for (var i = 0; i < count; i++)
        {
            using var call = client.CheckAsync(new HealthCheckRequest(), cancellationToken: Token);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await call.ResponseAsync).Status);
            answeredBy.Add((await call.ResponseHeadersAsync).GetValue(InProcessReplica.ReplicaHeader)!);
        }

        return answeredBy;
    }

    public async ValueTask DisposeAsync()
    {
        await _secure.DisposeAsync();
        await _plain.DisposeAsync();
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
