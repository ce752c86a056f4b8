using System.Net;
using BenchmarkDotNet.Attributes;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Benchmarks.Http;

/// <summary>
/// End-to-end cost of one request through AddMeshHandler against a plain HttpClient (SocketsHttpHandler) to the same
/// loopback Kestrel servers, measured in the same run: sequential (latency) and 16 concurrent requests per operation
/// (throughput). The ratio to the baseline is the number that matters; absolute numbers depend on the machine.
/// </summary>
[MemoryDiagnoser]
public class HandlerOverheadBenchmarks
{
    private const int Concurrency = 16;
    private readonly List<InProcessReplica> _replicas = [];
    private HttpClient _direct = null!;
    private HttpClient _factory = null!;
    private HttpClient _mesh = null!;
    private string[] _uncached = null!;
    private int _next;
    private ServiceProvider _services = null!;
    private readonly Task<HttpResponseMessage>[] _batch = new Task<HttpResponseMessage>[Concurrency];

    [Params(LoadBalancerKind.RoundRobin, LoadBalancerKind.PeakEwma)]
    public LoadBalancerKind Balancer { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        for (var i = 0; i < 3; i++)
        {
            _replicas.Add(await InProcessReplica.StartAsync($"r{i}"));
        }

        _direct = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = _replicas[0].Address,
        };
        var services = new ServiceCollection();
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = Balancer };
            foreach (var r in _replicas)
            {
                catalog.Endpoints.Add(new MeshEndpointOptions { Address = r.Address.ToString() });
            }

            o.Services["catalog"] = catalog;
        });
        services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        services.AddHttpClient("no-mesh", c => c.BaseAddress = _replicas[0].Address);
        _services = services.BuildServiceProvider();
        _mesh = _services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        _factory = _services.GetRequiredService<IHttpClientFactory>().CreateClient("no-mesh");

        // Paths that are never repeated within the rewritten-URI cache, made up front so that both clients pay the
        // same for the path string and only the handlers differ.
        _uncached = [.. Enumerable.Range(0, 4096).Select(i => $"/items?page={i}")];
        for (var i = 0; i < 200; i++)
        {
            (await _direct.GetAsync("/items")).Dispose();
            (await _factory.GetAsync("/items")).Dispose();
            (await _mesh.GetAsync("/items")).Dispose();
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _direct.Dispose();
        await _services.DisposeAsync();
        foreach (var r in _replicas)
        {
            await r.DisposeAsync();
        }
    }

    [Benchmark(Baseline = true, Description = "direct HttpClient, 1 request")]
    public async Task Direct()
    {
        using var response = await _direct.GetAsync("/items");
    }

    [Benchmark(Description = "IHttpClientFactory client without the mesh, 1 request")]
    public async Task Factory()
    {
        using var response = await _factory.GetAsync("/items");
    }

    [Benchmark(Description = "mesh handler, 1 request")]
    public async Task Mesh()
    {
        using var response = await _mesh.GetAsync("/items");
    }

    [Benchmark(Description = "direct HttpClient, 1 request, a new path each time")]
    public async Task DirectUncached()
    {
        using var response = await _direct.GetAsync(_uncached[_next++ & 4095]);
    }

    [Benchmark(Description = "mesh handler, 1 request, a new path each time")]
    public async Task MeshUncached()
    {
        using var response = await _mesh.GetAsync(_uncached[_next++ & 4095]);
    }

    [Benchmark(OperationsPerInvoke = Concurrency, Description = "direct HttpClient, 16 concurrent")]
    public Task DirectConcurrent() => Batch(_direct);

    [Benchmark(OperationsPerInvoke = Concurrency, Description = "mesh handler, 16 concurrent")]
    public Task MeshConcurrent() => Batch(_mesh);

    private async Task Batch(HttpClient client)
    {
        for (var i = 0; i < Concurrency; i++)
        {
            _batch[i] = client.GetAsync("/items");
        }

        foreach (var task in _batch)
        {
            (await task).Dispose();
        }
    }
}
