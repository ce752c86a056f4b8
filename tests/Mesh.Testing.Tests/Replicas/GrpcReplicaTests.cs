using Grpc.Health.V1;
using Grpc.Net.Client;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using GrpcHealth = Grpc.Health.V1.Health;

namespace Mesh.Testing.Tests.Replicas;

/// <summary>The test replica's gRPC face: grpc.health.v1 following the replica's behaviour, through the mesh.</summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class GrpcReplicaTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_grpc_fleet_is_balanced_by_the_mesh_and_a_not_serving_replica_is_marked_unhealthy()
    {
        await using var fleet = await ServiceFleet.StartAsync("catalog", 3, ReplicaTemplate.InProcess(new InProcessReplicaOptions { EnableGrpc = true }), cancellationToken: Token);
        var services = new ServiceCollection();
        services.AddMeshFleet(fleet, s =>
        {
            s.LoadBalancer = LoadBalancerKind.RoundRobin;
            s.HealthCheck.Protocol = HealthCheckProtocol.Grpc;
            s.HealthCheck.Interval = TimeSpan.FromMilliseconds(300);
            s.HealthCheck.Timeout = TimeSpan.FromMilliseconds(250);
        });
        services.AddGrpcClient<GrpcHealth.HealthClient>(o => o.Address = new Uri("http://catalog")).AddMeshHandler();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<GrpcHealth.HealthClient>();
        var monitor = provider.GetRequiredService<MeshMonitor>();

        var answeredBy = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            using var call = client.CheckAsync(new HealthCheckRequest(), cancellationToken: Token);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await call.ResponseAsync).Status);
            answeredBy.Add((await call.ResponseHeadersAsync).GetValue(InProcessReplica.ReplicaHeader)!);
        }

        await fleet[1].ConfigureAsync(new ReplicaChange { Healthy = false }, Token);
        for (var i = 0; i < 100 && monitor.GetService("catalog").Endpoints[1].Health != MeshEndpointHealth.Unhealthy; i++)
        {
            await Task.Delay(30, Token);
        }

        Assert.All(fleet.Replicas, r => Assert.Equal(10, answeredBy.Count(id => id == r.Id)));
        Assert.Equal(MeshEndpointHealth.Unhealthy, monitor.GetService("catalog").Endpoints[1].Health);
        Assert.Contains("NOT_SERVING", monitor.GetService("catalog").Endpoints[1].Reason, StringComparison.Ordinal);
    }
}
