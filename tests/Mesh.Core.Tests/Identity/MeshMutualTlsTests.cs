using Mesh.Identity;
using Mesh.Testing;
using Mesh.Testing.Identity;
using Mesh.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Tests.Identity;

/// <summary>mTLS through the mesh handler: real handshakes between the mesh client and Kestrel replicas with SVIDs from the development CA.</summary>
public sealed class MeshMutualTlsTests : IDisposable
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private Task<InProcessReplica> Replica(string id, string spiffeId) =>
        InProcessReplica.StartAsync(id, new InProcessReplicaOptions
        {
            ConfigureHttps = listen => listen.UseMeshIdentity(o =>
            {
                o.IdentitySource = _ca.CreateIdentitySource(spiffeId);
                o.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/storefront"));
            }),
        }, Token);

    private ServiceProvider Client(IEnumerable<InProcessReplica> replicas, string? serverIdentity, bool retries = false, FakeLogCollector? logs = null)
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        if (logs is not null)
        {
            services.AddLogging(l => l.AddProvider(new FakeLoggerProvider(logs)));
        }

        services.AddMeshIdentity(_ca.CreateIdentitySource("spiffe://mesh.test/storefront"));
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.RoundRobin, ServerIdentity = serverIdentity };
            foreach (var r in replicas)
            {
                catalog.Endpoints.Add(new MeshEndpointOptions { Address = r.Address.ToString() });
            }

            o.Services["catalog"] = catalog;
        });
        var client = services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"));
        if (retries)
        {
            client.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1));
        }

        client.AddMeshHandler();
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task Requests_reach_https_replicas_over_mtls_and_the_server_sees_the_callers_spiffe_id()
    {
        var callers = new List<string>();
        await using var a = await InProcessReplica.StartAsync("a", new InProcessReplicaOptions
        {
            ConfigureHttps = listen => listen.UseMeshIdentity(o =>
            {
                o.IdentitySource = _ca.CreateIdentitySource("spiffe://mesh.test/catalog");
                o.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/*"));
            }),
            ConfigureApp = app => Microsoft.AspNetCore.Builder.UseExtensions.Use(app, (context, next) =>
            {
                lock (callers)
                {
                    callers.Add(context.GetPeerSpiffeId()?.ToString() ?? "none");
                }

                return next(context);
            }),
        }, Token);
        await using var b = await Replica("b", "spiffe://mesh.test/catalog");
        await using var provider = Client([a, b], "spiffe://mesh.test/catalog");
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        var report = await TrafficDriver.RunAsync(client, TestTraffic.Requests(10), Token);

        report.AssertNoFailures();
        Assert.Equal(5, report.CountOf("a"));
        Assert.Equal(5, report.CountOf("b"));
        Assert.StartsWith("https://", a.Address.ToString(), StringComparison.Ordinal);
        Assert.All(callers, c => Assert.Equal("spiffe://mesh.test/storefront", c));
    }

    [Fact]
    public async Task A_server_proving_another_services_identity_is_refused_naming_both_identities()
    {
        await using var impostor = await Replica("impostor", "spiffe://mesh.test/payments");
        await using var provider = Client([impostor], "spiffe://mesh.test/catalog");
        using var failures = new MetricCollector<long>(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), MeshTelemetry.Name, "mesh.tls.handshake.failures");
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync("/", Token));

        Assert.Equal(HttpRequestError.SecureConnectionError, error.HttpRequestError);
        Assert.Contains("Mesh service 'catalog' endpoint", error.Message, StringComparison.Ordinal);
        Assert.Contains("spiffe://mesh.test/catalog", error.Message, StringComparison.Ordinal);
        Assert.Contains("spiffe://mesh.test/payments", error.Message, StringComparison.Ordinal);
        var spiffe = Assert.IsType<SpiffeAuthenticationException>(error.InnerException);
        Assert.Equal(X509SvidFailureReason.NotAuthorized, spiffe.Reason);
        Assert.Equal("NotAuthorized", Assert.Single(failures.GetMeasurementSnapshot()).Tags[MeshTelemetry.Attributes.TlsFailureReason]);
    }

    [Fact]
    public async Task Without_a_server_identity_any_workload_of_the_trust_domain_is_accepted_as_the_server()
    {
        // docs/security.md: ServerIdentity is what stops a registry writer from pointing a service at another workload.
        await using var payments = await Replica("payments", "spiffe://mesh.test/payments");
        await using var provider = Client([payments], serverIdentity: null);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        var report = await TrafficDriver.RunAsync(client, TestTraffic.Requests(3), Token);

        report.AssertNoFailures();
        Assert.Equal(3, report.CountOf("payments"));
    }

    [Fact]
    public async Task A_refused_server_is_logged_with_its_complete_endpoint_address()
    {
        // Issue #23, item 3: event 5020 named the endpoint without its port, so replicas on one host were indistinguishable.
        await using var impostor = await Replica("impostor", "spiffe://mesh.test/payments");
        var logs = new FakeLogCollector();
        await using var provider = Client([impostor], "spiffe://mesh.test/catalog", logs: logs);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync("/", Token));

        var refused = Assert.Single(logs.GetSnapshot(), r => r.Id.Name == "ServerRefused");
        Assert.Equal("Mesh.Identity.Client", refused.Category);
        var endpoint = impostor.Address.ToString().TrimEnd('/');
        Assert.Equal(endpoint, refused.GetStructuredStateValue("Target"));
        Assert.Contains($"Refused the server at {endpoint}:", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_retries_an_impostor_among_replicas_costs_no_request_and_is_ejected()
    {
        await using var good1 = await Replica("good1", "spiffe://mesh.test/catalog");
        await using var good2 = await Replica("good2", "spiffe://mesh.test/catalog");
        await using var impostor = await Replica("impostor", "spiffe://mesh.test/payments");
        await using var provider = Client([good1, impostor, good2], "spiffe://mesh.test/catalog", retries: true);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        var report = await TrafficDriver.RunAsync(client, TestTraffic.Requests(60), Token);

        report.AssertNoFailures();
        Assert.Equal(60, report.CountOf("good1") + report.CountOf("good2"));
        Assert.Equal(MeshEndpointHealth.Ejected, provider.GetRequiredService<MeshMonitor>().GetService("catalog").Endpoints[1].Health);
    }

    [Fact]
    public async Task The_mesh_hedges_over_mtls_and_the_caller_gets_back_its_logical_request_whichever_attempt_answers()
    {
        // https endpoints: each attempt's URI is rewritten to its endpoint (the TLS name and pool are the endpoint's),
        // so the request the caller gets back must have its logical URI again, also when the copy answered.
        await using var fast = await Replica("fast", "spiffe://mesh.test/catalog");
        await using var slow = await Replica("slow", "spiffe://mesh.test/catalog");
        slow.Behavior.Latency = TimeSpan.FromMilliseconds(300);
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddMeshIdentity(_ca.CreateIdentitySource("spiffe://mesh.test/storefront"));
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.RoundRobin, ServerIdentity = "spiffe://mesh.test/catalog" };
            catalog.Hedging.Enabled = true;
            catalog.Hedging.MinDelay = catalog.Hedging.MaxDelay = TimeSpan.FromMilliseconds(20);
            catalog.Hedging.BudgetRatio = 10;
            catalog.OutlierDetection.ConsecutiveFailures = 0;
            catalog.Endpoints.Add(new MeshEndpointOptions { Address = fast.Address.ToString() });
            catalog.Endpoints.Add(new MeshEndpointOptions { Address = slow.Address.ToString() });
            o.Services["catalog"] = catalog;
        });
        services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        await using var provider = services.BuildServiceProvider();
        using var hedges = new MetricCollector<long>(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "Mesh", "mesh.client.hedges");
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        var answeredByFast = 0;
        for (var i = 0; i < 8; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/items/{i}");
            using var response = await client.SendAsync(request, Token);

            response.EnsureSuccessStatusCode();
            var replica = response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single();
            answeredByFast += replica == "fast" ? 1 : 0;
            Assert.Same(request, response.RequestMessage);
            Assert.Equal($"http://catalog/items/{i}", request.RequestUri?.ToString());
            Assert.Equal((replica == "fast" ? fast : slow).Address.Port, response.GetMeshEndpoint()?.Address.Port);
        }

        // A copy sent after 20 ms beats the slow replica's 300 ms (on a loaded host, nearly always).
        Assert.InRange(answeredByFast, 7, 8);

        // Round robin put every other first attempt on the slow replica: those were answered by their copy.
        Assert.InRange(hedges.GetMeasurementSnapshot().Where(m => (string?)m.Tags["mesh.outcome"] == "sent").Sum(m => m.Value), 3, 8);
    }

    public void Dispose() => _ca.Dispose();
}
