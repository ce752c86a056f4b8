using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Tests.Health;

/// <summary>
/// A replica that accepts connections and never answers, behind the documented pattern (the standard resilience
/// handler outside the mesh, whose attempt timeout cancels the mesh's token): the attempts it swallows count as
/// timeouts and eject it with every balancer, while a caller that really gives up is not held against the endpoint.
/// </summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class OuterTimeoutTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static IHost Start(string balancer, IEnumerable<InProcessReplica> replicas, bool resilience)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:LoadBalancer"] = balancer,
            ["Mesh:Services:catalog:HashHeader"] = "x-user",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "3",
        };
        var i = 0;
        foreach (var replica in replicas)
        {
            settings[$"Mesh:Services:catalog:Endpoints:{i++}"] = replica.Address.ToString();
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMeshClient();
        var client = builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"));
        if (resilience)
        {
            client.AddStandardResilienceHandler(o =>
            {
                o.AttemptTimeout.Timeout = TimeSpan.FromMilliseconds(300);
                o.Retry.Delay = TimeSpan.FromMilliseconds(1);
                o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(1);
            });
        }

        builder.Services.AddHttpClient("catalog").AddMeshHandler();
        return builder.Build();
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("WeightedRoundRobin")]
    [InlineData("Random")]
    [InlineData("ConsistentHash")]
    [InlineData("PeakEwma")]
    [InlineData("LeastRequest")]
    public async Task A_hung_replica_is_ejected_after_ConsecutiveFailures_outer_attempt_timeouts_and_no_request_fails(string balancer)
    {
        await using var a = await InProcessReplica.StartAsync("a", cancellationToken: Token);
        await using var b = await InProcessReplica.StartAsync("b", cancellationToken: Token);
        await using var hung = await InProcessReplica.StartAsync("hung", cancellationToken: Token);
        hung.Behavior.Hang = true;
        using var host = Start(balancer, [a, b, hung], resilience: true);
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        var failures = 0;

        for (var i = 0; i < 60; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add("x-user", $"user-{i}");
            using var response = await client.SendAsync(request, Token);
            failures += response.IsSuccessStatusCode ? 0 : 1;
        }

        var snapshot = host.Services.GetRequiredService<MeshMonitor>().GetService("catalog");
        var state = snapshot.Endpoints.Single(e => e.Endpoint.Address.Port == hung.Port);
        Assert.Equal(0, failures);
        Assert.InRange(hung.RequestCount, 1, 6); // three timeouts eject it; nothing much after that
        if (hung.RequestCount >= 3 || balancer is not ("PeakEwma" or "LeastRequest"))
        {
            // Latency- and load-aware balancers may avoid it before it has three chances; every other balancer keeps
            // sending its share until outlier detection ejects it.
            Assert.Equal(MeshEndpointHealth.Ejected, state.Health);
            Assert.Contains("3 consecutive failures", state.Reason, StringComparison.Ordinal);
        }
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_caller_that_gives_up_is_not_held_against_the_endpoint()
    {
        await using var slow = await InProcessReplica.StartAsync("slow", cancellationToken: Token);
        slow.Behavior.Hang = true;
        using var host = Start("RoundRobin", [slow], resilience: false);
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        for (var i = 0; i < 5; i++)
        {
            using var caller = CancellationTokenSource.CreateLinkedTokenSource(Token);
            caller.CancelAfter(TimeSpan.FromMilliseconds(100));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("/", caller.Token));
        }

        var state = host.Services.GetRequiredService<MeshMonitor>().GetService("catalog").Endpoints.Single();
        Assert.Equal(MeshEndpointHealth.Healthy, state.Health);
        Assert.Equal(0, state.Failures);
        await host.StopAsync(Token);
    }
}
