using System.Net;
using Mesh.Identity;
using Mesh.Testing;
using Mesh.Testing.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Tests.Http;

/// <summary>
/// Requests over mutual TLS ask for HTTP/2 (Mesh:Http2Upgrade), so an attempt that times out resets one stream instead
/// of closing its connection: under a storm of attempt timeouts, HTTP/1.1 pays a new TLS handshake for every one of
/// them, which is what kept a 10-minute soak saturated for minutes after a short overload (bench/README.md). Real
/// Kestrel replicas (HTTP/1.1 and HTTP/2, as ASP.NET Core serves TLS by default), real handshakes.
/// </summary>
public sealed class Http2UpgradeTests : IDisposable
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _ca.Dispose();

    [Fact]
    public async Task Attempts_that_time_out_over_mutual_tls_do_not_cost_a_new_connection_each()
    {
        var (connections, version) = await TimeOutAttemptsAsync(upgrade: null);

        Assert.Equal(HttpVersion.Version20, version);
        Assert.InRange(connections, 1, 2); // one connection carries every attempt (two if a handshake raced)
    }

    [Fact]
    public async Task With_the_upgrade_off_each_timed_out_attempt_closes_its_http11_connection()
    {
        var (connections, version) = await TimeOutAttemptsAsync(upgrade: false);

        Assert.Equal(HttpVersion.Version11, version);
        Assert.InRange(connections, 8, 9); // the cost the upgrade avoids: a connection (and a handshake) per timeout
    }

    /// <summary>Eight attempts that time out (the replica hangs, the caller gives each 300 ms), then one that is
    /// answered; returns how many connections the replica accepted and the HTTP version of the answer.</summary>
    private async Task<(int Connections, Version Version)> TimeOutAttemptsAsync(bool? upgrade)
    {
        var connections = new HashSet<string>(StringComparer.Ordinal);
        await using var replica = await InProcessReplica.StartAsync("a", new InProcessReplicaOptions
        {
            Protocols = HttpProtocols.Http1AndHttp2,
            ConfigureHttps = listen => listen.UseMeshIdentity(o =>
            {
                o.IdentitySource = _ca.CreateIdentitySource("spiffe://mesh.test/catalog");
                o.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/storefront"));
            }),
            ConfigureApp = app => app.Use((context, next) =>
            {
                lock (connections)
                {
                    connections.Add(context.Connection.Id);
                }

                return next(context);
            }),
        }, Token);

        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:Endpoints:0:Address"] = replica.Address.ToString(),
            ["Mesh:Services:catalog:ServerIdentity"] = "spiffe://mesh.test/catalog",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "0",
        };
        if (upgrade is { } value)
        {
            settings["Mesh:Http2Upgrade"] = value ? "true" : "false";
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddMeshIdentity(_ca.CreateIdentitySource("spiffe://mesh.test/storefront"));
        services.AddMeshClient();
        services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        replica.Behavior.Hang = true;
        for (var i = 0; i < 8; i++)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(Token);
            attempt.CancelAfter(TimeSpan.FromMilliseconds(300));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("/", attempt.Token));
        }

        replica.Behavior.Hang = false;
        using var answered = await client.GetAsync("/", Token);
        answered.EnsureSuccessStatusCode();
        lock (connections)
        {
            return (connections.Count, answered.Version);
        }
    }
}
