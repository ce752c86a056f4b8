using Mesh.Identity;
using Mesh.Testing;
using Mesh.Testing.Identity;
using Mesh.Tests.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Mesh.Tests.Identity;

/// <summary>
/// A service that requires mutual TLS is never reached over plain http: configured the way the docs say (identity from
/// PEM files under <c>Mesh:Identity</c>, endpoints under <c>Mesh:Services</c>), with a fresh host per scenario and real
/// Kestrel replicas. The downgrade through a registry write is tested with a real etcd in Mesh.Discovery.Tests.
/// </summary>
public sealed class PlainHttpDowngradeTests : IDisposable
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly string _directory = Directory.CreateTempSubdirectory("mesh-downgrade-").FullName;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private Task<InProcessReplica> TlsReplica(string id) =>
        InProcessReplica.StartAsync(id, new InProcessReplicaOptions
        {
            ConfigureHttps = listen => listen.UseMeshIdentity(o =>
            {
                o.IdentitySource = _ca.CreateIdentitySource("spiffe://mesh.test/payments");
                o.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/*"));
            }),
        }, Token);

    /// <summary>The identity settings the docs show, with files written by the development CA.</summary>
    private Dictionary<string, string?> IdentitySettings()
    {
        var files = _ca.WriteIdentityFiles(_ca.IssueSvid("spiffe://mesh.test/storefront"), _directory);
        return new Dictionary<string, string?>
        {
            ["Mesh:Identity:CertificatePath"] = files.CertificatePath,
            ["Mesh:Identity:KeyPath"] = files.KeyPath,
            ["Mesh:Identity:TrustBundlePath"] = files.TrustBundlePath,
        };
    }

    private static IHost BuildHost(Dictionary<string, string?> settings, FakeLogCollector? logs = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        if (logs is not null)
        {
            builder.Logging.AddProvider(new FakeLoggerProvider(logs));
        }

        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("payments", c => c.BaseAddress = new Uri("http://payments")).AddMeshHandler();
        return builder.Build();
    }

    private static string Address(InProcessReplica replica) => replica.Address.ToString().TrimEnd('/');

    [Fact]
    public async Task A_plain_http_endpoint_of_a_service_with_a_server_identity_fails_start_naming_the_key()
    {
        await using var secure = await TlsReplica("secure");
        await using var plain = await InProcessReplica.StartAsync("plain", cancellationToken: Token);
        var settings = IdentitySettings();
        settings["Mesh:Services:payments:ServerIdentity"] = "spiffe://mesh.test/payments";
        settings["Mesh:Services:payments:Endpoints:0"] = Address(secure);
        settings["Mesh:Services:payments:Endpoints:1"] = Address(plain);
        using var host = BuildHost(settings);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Token));

        var message = Assert.Single(error.Failures);
        Assert.StartsWith("Mesh:Services:payments:Endpoints:1", message, StringComparison.Ordinal);
        Assert.Contains("requires mutual TLS", message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Services:payments:AllowPlainHttp", message, StringComparison.Ordinal);
        Assert.Equal(0, plain.RequestCount);
    }

    [Fact]
    public async Task RequireMutualTls_refuses_plain_http_endpoints_of_a_service_without_a_server_identity()
    {
        await using var plain = await InProcessReplica.StartAsync("plain", cancellationToken: Token);
        var settings = IdentitySettings();
        settings["Mesh:RequireMutualTls"] = "true";
        settings["Mesh:Services:payments:Endpoints:0"] = Address(plain);
        using var host = BuildHost(settings);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Token));

        Assert.Contains(error.Failures, f => f.StartsWith("Mesh:Services:payments:Endpoints:0", StringComparison.Ordinal) && f.Contains("Mesh:RequireMutualTls", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_server_identity_without_a_workload_identity_fails_start()
    {
        await using var secure = await TlsReplica("secure");
        using var host = BuildHost(new Dictionary<string, string?>
        {
            ["Mesh:Services:payments:ServerIdentity"] = "spiffe://mesh.test/payments",
            ["Mesh:Services:payments:Endpoints:0"] = Address(secure),
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Token));

        Assert.Contains(error.Failures, f => f.StartsWith("Mesh:Services:payments:ServerIdentity", StringComparison.Ordinal) && f.Contains("Mesh:Identity", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_a_server_identity_requests_go_only_to_the_tls_endpoints_over_mutual_tls()
    {
        await using var a = await TlsReplica("a");
        await using var b = await TlsReplica("b");
        var settings = IdentitySettings();
        settings["Mesh:Services:payments:ServerIdentity"] = "spiffe://mesh.test/payments";
        settings["Mesh:Services:payments:LoadBalancer"] = "RoundRobin";
        settings["Mesh:Services:payments:Endpoints:0"] = Address(a);
        settings["Mesh:Services:payments:Endpoints:1"] = Address(b);
        using var host = BuildHost(settings);
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("payments");

        (await TrafficDriver.RunAsync(client, TestTraffic.Requests(10), Token)).AssertNoFailures();

        Assert.Equal(5, a.RequestCount);
        Assert.Equal(5, b.RequestCount);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task AllowPlainHttp_lets_a_service_with_a_server_identity_reach_plain_http_endpoints_on_purpose()
    {
        await using var secure = await TlsReplica("secure");
        await using var plain = await InProcessReplica.StartAsync("plain", cancellationToken: Token);
        var settings = IdentitySettings();
        settings["Mesh:Services:payments:ServerIdentity"] = "spiffe://mesh.test/payments";
        settings["Mesh:Services:payments:AllowPlainHttp"] = "true";
        settings["Mesh:Services:payments:LoadBalancer"] = "RoundRobin";
        settings["Mesh:Services:payments:Endpoints:0"] = Address(secure);
        settings["Mesh:Services:payments:Endpoints:1"] = Address(plain);
        using var host = BuildHost(settings);
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("payments");

        (await TrafficDriver.RunAsync(client, TestTraffic.Requests(4), Token)).AssertNoFailures();

        Assert.Equal(2, secure.RequestCount);
        Assert.Equal(2, plain.RequestCount);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task With_an_identity_but_no_server_identity_each_plain_http_endpoint_is_warned_about_once()
    {
        await using var plain = await InProcessReplica.StartAsync("plain", cancellationToken: Token);
        await using var other = await InProcessReplica.StartAsync("other", cancellationToken: Token);
        var settings = IdentitySettings();
        settings["Mesh:Services:payments:Endpoints:0"] = Address(plain);
        settings["Mesh:Services:payments:Endpoints:1"] = Address(other);
        var logs = new FakeLogCollector();
        using var host = BuildHost(settings, logs);
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("payments");

        (await TrafficDriver.RunAsync(client, TestTraffic.Requests(6), Token)).AssertNoFailures();

        var warnings = logs.GetSnapshot().Where(r => r.Id.Name == "PlainHttpEndpointAdmitted").ToList();
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
        Assert.Contains(warnings, w => w.Message.Contains(Address(plain), StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Message.Contains(Address(other), StringComparison.Ordinal));
        Assert.Equal(6, plain.RequestCount + other.RequestCount);
        await host.StopAsync(Token);
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
