using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using HdrHistogram;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.LoadBench;

/// <summary>One timed run of one gRPC client configuration: calls, failed calls, latency.</summary>
internal sealed record GrpcRunResult(string Config, long Ok, long Failed, double CallsPerSecond, double P50Us, double P99Us);

/// <summary>A gRPC client under test and what must be disposed with it.</summary>
internal sealed record GrpcClientUnderTest(string Name, ReplicaService.ReplicaServiceClient Client, IDisposable Owner) : IDisposable
{
    public void Dispose() => Owner.Dispose();
}

/// <summary>
/// Issue 17, item 5: three gRPC replicas (separate processes, Grpc.AspNetCore over h2c), one answering 10% of calls with
/// UNAVAILABLE (trailers-only). Failed calls through the mesh reading gRPC statuses (the default), through the mesh judging
/// gRPC by HTTP alone (<c>GrpcStatusCodes: None</c>: the mesh before issue 17), and through grpc-dotnet's own
/// <c>round_robin</c> balancer over the same three replicas (a static resolver). Unary calls, closed loop, no retries;
/// a fresh client per run, so every configuration has to find the bad replica itself; interleaved rounds.
/// </summary>
internal static class GrpcScenario
{
    public const int Concurrency = 16;

    public static async Task<List<GrpcRunResult>> RunAsync(BenchSettings settings)
    {
        var replicas = new List<ReplicaProcess>();
        for (var i = 0; i < 3; i++)
        {
            replicas.Add(await ReplicaProcess.StartAsync($"r{i}", grpc: true));
        }

        // The replicas speak HTTP/2 only (h2c): so does the control client.
        using var control = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        await replicas[2].ControlAsync(control, "errors", "0.1");
        var endpoints = replicas.Select(r => r.Address).ToList();
        var configs = new (string Name, Func<GrpcClientUnderTest> Create)[]
        {
            Mesh(endpoints, LoadBalancerKind.RoundRobin, statusAware: true, failureRate: true),
            Mesh(endpoints, LoadBalancerKind.RoundRobin, statusAware: false, failureRate: true),
            Mesh(endpoints, LoadBalancerKind.PeakEwma, statusAware: true, failureRate: true),
            Mesh(endpoints, LoadBalancerKind.PeakEwma, statusAware: true, failureRate: false),
            Mesh(endpoints, LoadBalancerKind.PeakEwma, statusAware: false, failureRate: false),
            ("grpc-dotnet round_robin", () => GrpcRoundRobin(replicas)),
        };

        var results = new List<GrpcRunResult>();
        try
        {
            foreach (var (_, create) in configs)
            {
                using var warm = create();
                await RunOnceAsync(warm, settings.Warmup); // JIT, connections
            }

            for (var round = 0; round < settings.Rounds; round++)
            {
                foreach (var (name, create) in round % 2 == 0 ? configs : configs.Reverse())
                {
                    using var client = create();
                    var result = await RunOnceAsync(client, settings.Duration);
                    results.Add(result);
                    Console.WriteLine($"  grpc round {round + 1}/{settings.Rounds} {name,-62} {result.CallsPerSecond,7:F0} calls/s  p50 {result.P50Us,6:F0} µs  p99 {result.P99Us,6:F0} µs  failed {result.Failed} of {result.Ok + result.Failed}");
                }
            }
        }
        finally
        {
            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }
        }

        return results;
    }

    /// <summary>A gRPC client through the mesh, configured in code as the docs show in JSON.</summary>
    private static (string Name, Func<GrpcClientUnderTest> Create) Mesh(IReadOnlyList<Uri> endpoints, LoadBalancerKind balancer, bool statusAware, bool failureRate)
    {
        var name = $"mesh {balancer}{(failureRate ? " + failure-rate ejection" : "")}{(statusAware ? "" : ", GrpcStatusCodes None")}";
        return (name, () => MeshClient(name, endpoints, balancer, statusAware, failureRate));
    }

    private static GrpcClientUnderTest MeshClient(string name, IReadOnlyList<Uri> endpoints, LoadBalancerKind balancer, bool statusAware, bool failureRate)
    {
        var services = new ServiceCollection();
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = balancer };
            foreach (var e in endpoints)
            {
                catalog.Endpoints.Add(new MeshEndpointOptions { Address = e.ToString() });
            }

            if (!statusAware)
            {
                catalog.OutlierDetection.GrpcStatusCodes = GrpcStatusCodes.None;
            }

            if (failureRate)
            {
                // Eject an endpoint when 5% of its calls in 10 s failed (at least 20 calls): a replica failing 10% is an
                // outlier, the healthy ones (0%) are not.
                catalog.OutlierDetection.FailureRateThreshold = 5;
                catalog.OutlierDetection.FailureRateMinimumRequests = 20;
            }

            o.Services["catalog"] = catalog;
        });
        services.AddGrpcClient<ReplicaService.ReplicaServiceClient>(o => o.Address = new Uri("http://catalog")).AddMeshHandler();
        var provider = services.BuildServiceProvider();
        return new GrpcClientUnderTest(name, provider.GetRequiredService<ReplicaService.ReplicaServiceClient>(), provider);
    }

    /// <summary>grpc-dotnet's own balancing: a channel over a static resolver listing the three replicas, with
    /// <c>round_robin</c> (subchannels that are connected get calls in turn; no input from call statuses).</summary>
    private static GrpcClientUnderTest GrpcRoundRobin(IReadOnlyList<ReplicaProcess> replicas)
    {
        var services = new ServiceCollection();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => [.. replicas.Select(r => new BalancerAddress("127.0.0.1", r.Port))]));
        var provider = services.BuildServiceProvider();
        var channel = GrpcChannel.ForAddress("static:///catalog", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
            ServiceProvider = provider,
        });
        return new GrpcClientUnderTest("grpc-dotnet round_robin", new ReplicaService.ReplicaServiceClient(channel), new Owners(channel, provider));
    }

    private static async Task<GrpcRunResult> RunOnceAsync(GrpcClientUnderTest client, TimeSpan duration)
    {
        var histogram = new LongConcurrentHistogram(1, 60_000_000, 3);
        long ok = 0, failed = 0;
        var clock = Stopwatch.StartNew();
        var end = duration.Ticks;
        var request = new ReplicaRequest();
        var workers = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 10_000_000 && clock.Elapsed.Ticks < end; i++)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await client.Client.UnaryAsync(request);
                    histogram.RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds));
                    Interlocked.Increment(ref ok);
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        return new GrpcRunResult(client.Name, ok, failed, ok / clock.Elapsed.TotalSeconds, histogram.GetValueAtPercentile(50), histogram.GetValueAtPercentile(99));
    }

    private sealed class Owners(GrpcChannel channel, ServiceProvider provider) : IDisposable
    {
        public void Dispose()
        {
            channel.Dispose();
            provider.Dispose();
        }
    }
}
