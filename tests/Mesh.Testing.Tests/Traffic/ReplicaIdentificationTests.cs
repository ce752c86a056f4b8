using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing.Tests.Traffic;

/// <summary>The traffic driver identifies replicas of any image: servers that send no replica header are named by the
/// endpoint the mesh sent each request to, and fleets publish each replica's id with its endpoint.</summary>
public sealed class ReplicaIdentificationTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>A plain Kestrel app on loopback that knows nothing of Mesh.Testing.</summary>
    private static async Task<WebApplication> PlainServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapGet("/", () => "hello");
        await app.StartAsync(Token);
        return app;
    }

    private static string AddressOf(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single().TrimEnd('/');

    [Fact]
    public async Task Replicas_without_a_replica_header_are_named_by_the_endpoint_the_mesh_chose()
    {
        await using var a = await PlainServerAsync();
        await using var b = await PlainServerAsync();
        var services = new ServiceCollection();
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.RoundRobin };
            catalog.Endpoints.Add(new MeshEndpointOptions { Address = AddressOf(a) });
            catalog.Endpoints.Add(new MeshEndpointOptions { Address = AddressOf(b) });
            o.Services["catalog"] = catalog;
        });
        services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        var report = await TrafficDriver.RunAsync(client, new TrafficOptions { RequestCount = 20, Concurrency = 1 }, Token);

        report.AssertNoFailures();
        Assert.Equal(10, report.CountOf(AddressOf(a)));
        Assert.Equal(10, report.CountOf(AddressOf(b)));
    }

    [Fact]
    public async Task A_fleet_publishes_each_replicas_id_with_its_endpoint()
    {
        await using var fleet = await ServiceFleet.StartAsync("catalog", 2, version: "v1", cancellationToken: Token);

        var endpoints = fleet.Endpoints;

        Assert.Equal(fleet.Replicas.Select(r => r.Id), endpoints.Select(e => e.Metadata[ServiceFleet.ReplicaMetadataKey]));
        Assert.All(endpoints, e => Assert.Equal("v1", e.Metadata["version"]));
    }
}
