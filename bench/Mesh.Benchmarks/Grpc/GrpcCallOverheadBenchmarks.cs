using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Benchmarks.Grpc;

/// <summary>
/// Issue 17, item 5: one gRPC call through <c>AddGrpcClient&lt;...&gt;().AddMeshHandler()</c> — which reads each call's
/// status (trailers-only or in the trailers after the replies) and keeps streams in flight until they end — against a
/// plain <see cref="GrpcChannel"/> (its own <see cref="SocketsHttpHandler"/>) to the same loopback Grpc.AspNetCore
/// replicas, in the same run: a unary call, and a server-streaming call of 10 replies read to the end. The mesh client
/// spreads over three replicas (RoundRobin); the plain channel calls one.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GrpcCallOverheadBenchmarks
{
    private readonly List<InProcessReplica> _replicas = [];
    private readonly ReplicaRequest _unary = new();
    private readonly ReplicaRequest _stream = new() { Messages = 10 };
    private GrpcChannel _channel = null!;
    private ReplicaService.ReplicaServiceClient _direct = null!;
    private ReplicaService.ReplicaServiceClient _mesh = null!;
    private ServiceProvider _services = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        for (var i = 0; i < 3; i++)
        {
            _replicas.Add(await InProcessReplica.StartAsync($"r{i}", new InProcessReplicaOptions { EnableGrpc = true }));
        }

        _channel = GrpcChannel.ForAddress(_replicas[0].Address);
        _direct = new ReplicaService.ReplicaServiceClient(_channel);
        var services = new ServiceCollection();
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.RoundRobin };
            foreach (var r in _replicas)
            {
                catalog.Endpoints.Add(new MeshEndpointOptions { Address = r.Address.ToString() });
            }

            o.Services["catalog"] = catalog;
        });
        services.AddGrpcClient<ReplicaService.ReplicaServiceClient>(o => o.Address = new Uri("http://catalog")).AddMeshHandler();
        _services = services.BuildServiceProvider();
        _mesh = _services.GetRequiredService<ReplicaService.ReplicaServiceClient>();
        for (var i = 0; i < 300; i++)
        {
            await Unary(_direct);
            await Unary(_mesh);
            await Stream(_direct);
            await Stream(_mesh);
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _channel.Dispose();
        await _services.DisposeAsync();
        foreach (var r in _replicas)
        {
            await r.DisposeAsync();
        }
    }

    [Benchmark(Baseline = true, Description = "plain GrpcChannel, unary")]
    [BenchmarkCategory("unary")]
    public Task<string> DirectUnary() => Unary(_direct);

    [Benchmark(Description = "mesh, unary")]
    [BenchmarkCategory("unary")]
    public Task<string> MeshUnary() => Unary(_mesh);

    [Benchmark(Baseline = true, Description = "plain GrpcChannel, server stream of 10")]
    [BenchmarkCategory("stream")]
    public Task<int> DirectStream() => Stream(_direct);

    [Benchmark(Description = "mesh, server stream of 10")]
    [BenchmarkCategory("stream")]
    public Task<int> MeshStream() => Stream(_mesh);

    private async Task<string> Unary(ReplicaService.ReplicaServiceClient client) => (await client.UnaryAsync(_unary)).ReplicaId;

    private async Task<int> Stream(ReplicaService.ReplicaServiceClient client)
    {
        using var call = client.ServerStream(_stream);
        var count = 0;
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            count++;
        }

        return call.GetStatus().StatusCode == StatusCode.OK ? count : -1;
    }
}
