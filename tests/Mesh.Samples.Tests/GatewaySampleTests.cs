using System.Net;
using Mesh.Gateway;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace Mesh.Samples.Tests;

/// <summary>The gateway sample end to end: a request enters through YARP and reaches the replicas through the mesh.</summary>
public sealed class GatewaySampleTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Requests_through_the_gateway_are_routed_and_balanced_by_the_mesh()
    {
        await using var a = await InProcessReplica.StartAsync("catalog-a", cancellationToken: Token);
        await using var b = await InProcessReplica.StartAsync("catalog-b", cancellationToken: Token);
        var paths = new List<string>();
        await using var gateway = GatewayApp.Build([], builder =>
        {
            builder.Configuration.Sources.Clear(); // only what the test says (no appsettings.json of any sample)
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["ReverseProxy:Routes:catalog:ClusterId"] = "catalog",
                ["ReverseProxy:Routes:catalog:Match:Path"] = "/catalog/{**rest}",
                ["ReverseProxy:Routes:catalog:Transforms:0:PathRemovePrefix"] = "/catalog",
                ["ReverseProxy:Clusters:catalog:Destinations:mesh:Address"] = "http://catalog/",
                ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
                ["Mesh:Services:catalog:Endpoints:0"] = a.Address.ToString(),
                ["Mesh:Services:catalog:Endpoints:1"] = b.Address.ToString(),
            });
        });
        await gateway.StartAsync(Token);
        using var client = new HttpClient { BaseAddress = new Uri(gateway.Urls.First()) };

        var report = await TrafficDriver.RunAsync(client, new TrafficOptions
        {
            RequestCount = 20,
            Concurrency = 1,
            CreateRequest = static () => new HttpRequestMessage(HttpMethod.Get, "/catalog/items/7"),
            IsSuccess = static r => r.IsSuccessStatusCode,
        }, Token);

        report.AssertNoFailures();
        Assert.Equal(10, report.CountOf("catalog-a"));
        Assert.Equal(10, report.CountOf("catalog-b"));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz", Token)).StatusCode);
        var mesh = await client.GetStringAsync("/mesh", Token);
        Assert.Contains("\"name\":\"catalog\"", mesh, StringComparison.Ordinal);
        Assert.Contains("\"requests\":10", mesh, StringComparison.Ordinal);
        await gateway.StopAsync(Token);
    }
}
