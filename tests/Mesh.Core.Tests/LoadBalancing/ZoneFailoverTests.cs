using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Tests.LoadBalancing;

/// <summary>
/// Retries are not trapped in a zone or a traffic-split group: a retry avoids the endpoints the request already tried,
/// and when every candidate of the preferred group was tried it spills to the next group. As a user meets it: a fresh
/// host, the documented pattern (standard resilience handler outside the mesh), real replicas, one of them killed.
/// </summary>
public sealed class ZoneFailoverTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static IHost Start(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1)).Services
            .AddHttpClient("catalog").AddMeshHandler();
        return builder.Build();
    }

    private static string Address(InProcessReplica replica) => replica.Address.ToString().TrimEnd('/');

    [Theory]
    [InlineData("PeakEwma")]
    [InlineData("RoundRobin")]
    [InlineData("LeastRequest")]
    public async Task When_the_only_local_endpoint_dies_the_next_request_is_retried_in_another_zone_and_succeeds(string balancer)
    {
        await using var local = await InProcessReplica.StartAsync("local", cancellationToken: Token);
        await using var remoteA = await InProcessReplica.StartAsync("remote-a", cancellationToken: Token);
        await using var remoteB = await InProcessReplica.StartAsync("remote-b", cancellationToken: Token);
        using var host = Start(new()
        {
            ["Mesh:Zone"] = "eu-1a",
            ["Mesh:Services:catalog:LoadBalancer"] = balancer,
            ["Mesh:Services:catalog:Endpoints:0:Address"] = Address(local),
            ["Mesh:Services:catalog:Endpoints:0:Zone"] = "eu-1a",
            ["Mesh:Services:catalog:Endpoints:1:Address"] = Address(remoteA),
            ["Mesh:Services:catalog:Endpoints:1:Zone"] = "eu-1b",
            ["Mesh:Services:catalog:Endpoints:2:Address"] = Address(remoteB),
            ["Mesh:Services:catalog:Endpoints:2:Zone"] = "eu-1b",
        });
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        for (var i = 0; i < 5; i++)
        {
            (await client.GetAsync("/", Token)).EnsureSuccessStatusCode();
        }

        Assert.Equal(5, local.RequestCount); // the local zone is preferred while it is healthy
        await local.StopAsync();

        using var response = await client.GetAsync("/", Token);

        response.EnsureSuccessStatusCode();
        Assert.Equal(1, remoteA.RequestCount + remoteB.RequestCount);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task When_the_only_endpoint_of_a_canary_group_dies_the_retry_goes_to_the_other_group()
    {
        await using var stable = await InProcessReplica.StartAsync("stable", cancellationToken: Token);
        await using var canary = await InProcessReplica.StartAsync("canary", cancellationToken: Token);
        using var host = Start(new()
        {
            ["Mesh:Services:catalog:TrafficSplit:MetadataKey"] = "version",
            ["Mesh:Services:catalog:TrafficSplit:Weights:v1"] = "1",
            ["Mesh:Services:catalog:TrafficSplit:Weights:v2"] = "1",
            ["Mesh:Services:catalog:Endpoints:0:Address"] = Address(stable),
            ["Mesh:Services:catalog:Endpoints:0:Metadata:version"] = "v1",
            ["Mesh:Services:catalog:Endpoints:1:Address"] = Address(canary),
            ["Mesh:Services:catalog:Endpoints:1:Metadata:version"] = "v2",
        });
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        await canary.StopAsync();

        for (var i = 0; i < 4; i++)
        {
            using var response = await client.GetAsync("/", Token);
            response.EnsureSuccessStatusCode();
        }

        Assert.Equal(4, stable.RequestCount);
        await host.StopAsync(Token);
    }
}
