using Grpc.Health.V1;
using GrpcHealth = Grpc.Health.V1.Health;
using Mesh.Testing;
using Mesh.Tests.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Tests.Http;

/// <summary>The typed-HttpClient handler: rewriting, retries through resilience handlers, gRPC, errors.</summary>
public sealed class MeshHandlerTests
{
    [Fact]
    public async Task A_request_reaches_the_endpoint_with_its_path_query_and_the_services_name_as_host()
    {
        var seen = new List<string>();
        var options = new InProcessReplicaOptions
        {
            ConfigureApp = app => app.Use((context, next) =>
            {
                lock (seen)
                {
                    seen.Add($"{context.Request.Host}{context.Request.Path}{context.Request.QueryString}");
                }

                return next(context);
            }),
        };
        await using var host = await MeshTestHost.StartAsync(1, replicaOptions: options);

        using var response = await host.Client.GetAsync("/items/42?color=red&size=m", TestContext.Current.CancellationToken);

        response.EnsureSuccessStatusCode();
        Assert.Equal("catalog/items/42?color=red&size=m", Assert.Single(seen));
        Assert.Equal("http://catalog/items/42?color=red&size=m", response.RequestMessage!.RequestUri!.ToString());
    }

    [Fact]
    public async Task Standard_resilience_handler_with_one_refusing_endpoint_loses_no_request()
    {
        await using var host = await MeshTestHost.StartAsync(3,
            settings: new() { ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin" },
            configureClient: c => c.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1)));
        await host.Replicas[1].StopAsync(); // its port now refuses connections

        var (perReplica, failures) = await host.SendAsync(300);

        Assert.Empty(failures);
        Assert.Equal(300, perReplica.GetValueOrDefault("r0") + perReplica.GetValueOrDefault("r2"));
    }

    [Fact]
    public async Task A_retry_of_the_same_message_is_balanced_to_an_endpoint_not_yet_tried()
    {
        var attempts = new List<string>();
        await using var host = await MeshTestHost.StartAsync(2,
            settings: new() { ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin" },
            configureClient: c => c.AddHttpMessageHandler(() => new RecordingRetryHandler(attempts)));
        host.Replicas[0].Behavior.ErrorRate = 1.0;
        host.Replicas[1].Behavior.ErrorRate = 1.0;

        using var response = await host.Client.GetAsync("/", TestContext.Current.CancellationToken);

        // Each attempt saw the logical URI (the mesh restores it), and the two attempts went to different replicas.
        Assert.Equal(["http://catalog/", "http://catalog/"], attempts);
        Assert.Equal(2, host.Replicas.Sum(r => r.RequestCount));
        Assert.All(host.Replicas, r => Assert.Equal(1, r.RequestCount));
    }

    [Fact]
    public async Task Unknown_service_fails_with_an_exception_naming_it_and_the_known_services()
    {
        await using var host = await MeshTestHost.StartAsync(1);

        var error = await Assert.ThrowsAsync<MeshServiceNotFoundException>(() => host.Client.GetAsync("http://catlog/", TestContext.Current.CancellationToken));

        Assert.Equal("catlog", error.ServiceName);
        Assert.Contains("catalog", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://catalog/items", "catalog")]
    [InlineData("https://catalog:8443/items?x=1", "catalog")]
    [InlineData("http://catalog.shop-1.svc?x", "catalog.shop-1.svc")]
    [InlineData("http://catalog#top", "catalog")]
    [InlineData("http://Catalog/items", "")] // upper case: left to Uri.IdnHost
    [InlineData("http://user@catalog/items", "")]
    [InlineData("http://[::1]:80/", "")]
    [InlineData("http://katalög/", "")]
    public void The_service_is_read_from_the_uri_as_written_only_when_that_is_its_canonical_host(string uri, string expected)
    {
        Assert.Equal(expected, Mesh.Http.Internal.MeshHttpHandler.CanonicalHost(new Uri(uri)).ToString());
    }

    [Fact]
    public async Task A_host_written_in_upper_case_or_with_a_port_still_names_its_service()
    {
        await using var host = await MeshTestHost.StartAsync(1);
        var token = TestContext.Current.CancellationToken;

        // Uri.IdnHost (lower case, no port) names the service, as before the host was read from the URI's text.
        using var upper = await host.Client.GetAsync("http://CATALOG/items", token);
        using var port = await host.Client.GetAsync("http://catalog:8080/items", token);

        Assert.Equal(System.Net.HttpStatusCode.OK, upper.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, port.StatusCode);
        Assert.Equal(2, host.Replicas[0].RequestCount);
        var error = await Assert.ThrowsAsync<MeshServiceNotFoundException>(() => host.Client.GetAsync("http://CATLOG/", token));
        Assert.Equal("catlog", error.ServiceName);
    }

    [Fact]
    public async Task A_request_the_caller_cancels_ends_cancelled_and_one_that_fails_ends_faulted_as_from_an_async_method()
    {
        await using var host = await MeshTestHost.StartAsync(1);
        var token = TestContext.Current.CancellationToken;
        host.Replicas[0].Behavior.Hang = true;

        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(token);
        var cancelled = host.Client.GetAsync("/", giveUp.Token);
        await Task.Delay(100, token);
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.True(cancelled.IsCanceled, $"the task is {cancelled.Status}");

        host.Replicas[0].Behavior.Hang = false;
        await host.Replicas[0].StopAsync();
        var failed = host.Client.GetAsync("/", token);
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => failed);
        Assert.True(failed.IsFaulted, $"the task is {failed.Status}");
        Assert.Contains(host.Replicas[0].Port.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_available_endpoint_fails_with_an_exception_naming_the_service()
    {
        await using var host = await MeshTestHost.StartAsync(1, new()
        {
            ["Mesh:Services:catalog:PanicThreshold"] = "0",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "1",
            ["Mesh:Services:catalog:OutlierDetection:MaxEjectionPercent"] = "100",
        });
        await host.Replicas[0].StopAsync();
        await Assert.ThrowsAsync<HttpRequestException>(() => host.Client.GetAsync("/", TestContext.Current.CancellationToken));

        var error = await Assert.ThrowsAsync<MeshNoEndpointsException>(() => host.Client.GetAsync("/", TestContext.Current.CancellationToken));

        Assert.Equal("catalog", error.ServiceName);
        Assert.Contains("PanicThreshold", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grpc_client_goes_through_the_mesh_and_calls_spread_across_replicas()
    {
        var replicaOptions = new InProcessReplicaOptions
        {
            Protocols = HttpProtocols.Http2,
            ConfigureServices = services =>
            {
                services.AddGrpc();
                var health = new Grpc.HealthCheck.HealthServiceImpl();
                health.SetStatus("", HealthCheckResponse.Types.ServingStatus.Serving);
                services.AddSingleton(health);
            },
            ConfigureApp = app => app.MapGrpcService<Grpc.HealthCheck.HealthServiceImpl>(),
        };
        var replicas = new List<InProcessReplica>();
        for (var i = 0; i < 3; i++)
        {
            replicas.Add(await InProcessReplica.StartAsync($"g{i}", replicaOptions, TestContext.Current.CancellationToken));
        }

        try
        {
            var services = new ServiceCollection();
            services.AddMeshClient(o =>
            {
                var catalog = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.RoundRobin };
                foreach (var r in replicas)
                {
                    catalog.Endpoints.Add(new MeshEndpointOptions { Address = r.Address.ToString() });
                }

                o.Services["catalog"] = catalog;
            });
            services.AddGrpcClient<GrpcHealth.HealthClient>(o => o.Address = new Uri("http://catalog")).AddMeshHandler();
            await using var provider = services.BuildServiceProvider();
            var client = provider.GetRequiredService<GrpcHealth.HealthClient>();
            var counts = new Dictionary<string, int>();

            for (var i = 0; i < 30; i++)
            {
                using var call = client.CheckAsync(new HealthCheckRequest(), cancellationToken: TestContext.Current.CancellationToken);
                var reply = await call.ResponseAsync;
                Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
                var replica = (await call.ResponseHeadersAsync).GetValue(InProcessReplica.ReplicaHeader)!;
                counts[replica] = counts.GetValueOrDefault(replica) + 1;
            }

            Assert.Equal(3, counts.Count);
            Assert.All(counts.Values, n => Assert.Equal(10, n));
        }
        finally
        {
            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Endpoints_given_as_service_discovery_configuration_are_used_unchanged()
    {
        await using var replica = await InProcessReplica.StartAsync("sd", cancellationToken: TestContext.Current.CancellationToken);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Services:inventory:http:0"] = $"127.0.0.1:{replica.Port}",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddMeshClient();
        services.AddHttpClient("inventory", c => c.BaseAddress = new Uri("http://inventory")).AddMeshHandler();
        await using var provider = services.BuildServiceProvider();

        var body = await provider.GetRequiredService<IHttpClientFactory>().CreateClient("inventory").GetStringAsync("/", TestContext.Current.CancellationToken);

        Assert.Equal("sd", body);
    }

    /// <summary>Retries once on 5xx by resending the same message, recording the URI each attempt starts with.</summary>
    private sealed class RecordingRetryHandler(List<string> attempts) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            attempts.Add(request.RequestUri!.ToString());
            var response = await base.SendAsync(request, cancellationToken);
            if ((int)response.StatusCode < 500)
            {
                return response;
            }

            response.Dispose();
            attempts.Add(request.RequestUri!.ToString());
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
