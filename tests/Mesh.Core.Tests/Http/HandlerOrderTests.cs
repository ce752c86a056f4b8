using Grpc.Health.V1;
using Polly;
using GrpcHealth = Grpc.Health.V1.Health;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Tests.Http;

/// <summary>
/// The documented chains compile and work, and the mesh ends up innermost whatever the order of the calls: an outer
/// handler sees one logical request (http://catalog/...) while the mesh balances each of its attempts. Real replicas,
/// one of them down, so every scenario needs a retry or a hedge to succeed.
/// </summary>
public sealed class HandlerOrderTests : IAsyncLifetime
{
    private InProcessReplica _up = null!;
    private InProcessReplica _down = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _up = await InProcessReplica.StartAsync("up", cancellationToken: Token);
        _down = await InProcessReplica.StartAsync("down", cancellationToken: Token);
        await _down.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _up.DisposeAsync();
        await _down.DisposeAsync();
    }

    /// <summary>Counts the requests an outer handler sees and the URIs they carry.</summary>
    private sealed class Recorder : DelegatingHandler
    {
        public List<Uri> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Seen)
            {
                Seen.Add(request.RequestUri!);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    private HostApplicationBuilder Builder(InProcessReplica? up = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:catalog:Endpoints:0"] = (up ?? _up).Address.ToString(),
            ["Mesh:Services:catalog:Endpoints:1"] = _down.Address.ToString(),
        });
        builder.Services.AddMeshClient();
        return builder;
    }

    private static async Task<int> SendAsync(IHost host, string client, int count)
    {
        var http = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(client);
        var ok = 0;
        for (var i = 0; i < count; i++)
        {
            using var response = await http.GetAsync("/", Token);
            ok += response.IsSuccessStatusCode ? 1 : 0;
        }

        return ok;
    }

    [Fact]
    public async Task The_documented_chain_resilience_then_mesh_retries_through_the_mesh()
    {
        var builder = Builder();
        var recorder = new Recorder();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddHttpMessageHandler(() => recorder)
            .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1))
            .AddMeshHandler();
        using var host = builder.Build();
        await host.StartAsync(Token);

        Assert.Equal(6, await SendAsync(host, "catalog", 6));
        Assert.Equal(6, recorder.Seen.Count);
        Assert.All(recorder.Seen, uri => Assert.Equal("catalog", uri.Host));
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task The_reverse_order_mesh_then_resilience_behaves_the_same()
    {
        var builder = Builder();
        var recorder = new Recorder();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddMeshHandler()
            .AddHttpMessageHandler(() => recorder) // added after the mesh: still outside it
            .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1));
        using var host = builder.Build();
        await host.StartAsync(Token);

        Assert.Equal(6, await SendAsync(host, "catalog", 6));
        Assert.All(recorder.Seen, uri => Assert.Equal("catalog", uri.Host));
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task The_standard_hedging_handler_chains_and_each_hedge_goes_through_the_mesh()
    {
        var builder = Builder();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardHedgingHandler().AddMeshHandler();
        using var host = builder.Build();
        await host.StartAsync(Token);

        Assert.Equal(6, await SendAsync(host, "catalog", 6));
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_custom_resilience_pipeline_chains_with_the_mesh()
    {
        var builder = Builder();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddResilienceHandler("retries", p => p.AddRetry(new HttpRetryStrategyOptions { Delay = TimeSpan.FromMilliseconds(1), MaxRetryAttempts = 3 }))
            .AddMeshHandler();
        using var host = builder.Build();
        await host.StartAsync(Token);

        Assert.Equal(6, await SendAsync(host, "catalog", 6));
        await host.StopAsync(Token);
    }

    /// <summary>A typed client, as the README shows it.</summary>
    public sealed class CatalogClient(HttpClient http)
    {
        public Task<string> GetAsync() => http.GetStringAsync("/", Token);
    }

    [Fact]
    public async Task A_typed_client_chains_the_same_way()
    {
        var builder = Builder();
        builder.Services.AddHttpClient<CatalogClient>(c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1))
            .AddMeshHandler();
        using var host = builder.Build();
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<CatalogClient>();

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("up", await client.GetAsync());
        }

        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_grpc_client_chains_the_same_way()
    {
        await using var grpc = await InProcessReplica.StartAsync("grpc", new InProcessReplicaOptions { EnableGrpc = true }, Token);
        var builder = Builder(grpc);
        builder.Services.AddGrpcClient<GrpcHealth.HealthClient>(o => o.Address = new Uri("http://catalog"))
            .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1))
            .AddMeshHandler();
        using var host = builder.Build();
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<GrpcHealth.HealthClient>();

        for (var i = 0; i < 4; i++)
        {
            var reply = await client.CheckAsync(new HealthCheckRequest(), cancellationToken: Token);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
        }

        await host.StopAsync(Token);
    }
}
