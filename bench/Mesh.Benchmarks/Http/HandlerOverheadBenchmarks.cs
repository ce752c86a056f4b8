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
    private HttpClient _meshBare = null!;
    private HttpClient _resilient = null!;
    private HttpClient _meshResilient = null!;
    private HttpClient _hedgedMesh = null!;
    private HttpClient _meshHedging = null!;
    private HttpClient _meshOwnHedging = null!;
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

            // The same replicas as a service the mesh hedges itself (Hedging:Enabled).
            var hedged = new MeshServiceOptions { LoadBalancer = Balancer };
            hedged.Hedging.Enabled = true;
            foreach (var endpoint in catalog.Endpoints)
            {
                hedged.Endpoints.Add(new MeshEndpointOptions { Address = endpoint.Address });
            }

            o.Services["catalog-hedged"] = hedged;
        });
        services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        services.AddHttpClient("no-mesh", c => c.BaseAddress = _replicas[0].Address);
        services.AddHttpClient("resilient-no-mesh", c => c.BaseAddress = _replicas[0].Address).AddStandardResilienceHandler();
        services.AddHttpClient("resilient-mesh", c => c.BaseAddress = new Uri("http://catalog")).AddStandardResilienceHandler().AddMeshHandler();
        services.AddHttpClient("hedged-mesh", c => c.BaseAddress = new Uri("http://catalog")).AddStandardHedgingHandler().AddMeshHandler();
        services.AddHttpClient("mesh-hedging", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHedging();
        services.AddHttpClient("mesh-own-hedging", c => c.BaseAddress = new Uri("http://catalog-hedged")).AddMeshHandler();
        _services = services.BuildServiceProvider();
        var factory = _services.GetRequiredService<IHttpClientFactory>();
        _mesh = factory.CreateClient("catalog");
        _factory = factory.CreateClient("no-mesh");
        _resilient = factory.CreateClient("resilient-no-mesh");
        _meshResilient = factory.CreateClient("resilient-mesh");
        _hedgedMesh = factory.CreateClient("hedged-mesh");
        _meshHedging = factory.CreateClient("mesh-hedging");
        _meshOwnHedging = factory.CreateClient("mesh-own-hedging");
        _meshBare = new HttpClient(_services.GetRequiredService<MeshHandlerFactory>().CreateHandler()) { BaseAddress = new Uri("http://catalog") };

        // Paths that are never repeated within the rewritten-URI cache, made up front so that both clients pay the
        // same for the path string and only the handlers differ.
        _uncached = [.. Enumerable.Range(0, 4096).Select(i => $"/items?page={i}")];
        for (var i = 0; i < 200; i++)
        {
            (await _direct.GetAsync("/items")).Dispose();
            (await _factory.GetAsync("/items")).Dispose();
            (await _mesh.GetAsync("/items")).Dispose();
            (await _meshBare.GetAsync("/items")).Dispose();
            (await _resilient.GetAsync("/items")).Dispose();
            (await _meshResilient.GetAsync("/items")).Dispose();
            (await _hedgedMesh.GetAsync("/items")).Dispose();
            (await _meshHedging.GetAsync("/items")).Dispose();
            (await _meshOwnHedging.GetAsync("/items")).Dispose();
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _direct.Dispose();
        _meshBare.Dispose();
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

    [Benchmark(Description = "mesh handler (MeshHandlerFactory) in a plain HttpClient, 1 request")]
    public async Task MeshBare()
    {
        using var response = await _meshBare.GetAsync("/items");
    }

    [Benchmark(Description = "factory client with standard resilience, without the mesh, 1 request")]
    public async Task Resilient()
    {
        using var response = await _resilient.GetAsync("/items");
    }

    [Benchmark(Description = "factory client with standard resilience and the mesh, 1 request")]
    public async Task MeshResilient()
    {
        using var response = await _meshResilient.GetAsync("/items");
    }

    [Benchmark(Description = "factory client with the standard hedging handler (2 s delay: it never hedges here) and the mesh, 1 request")]
    public async Task HedgedMesh()
    {
        using var response = await _hedgedMesh.GetAsync("/items");
    }

    [Benchmark(Description = "factory client with mesh-aware hedging (AddMeshHedging), 1 request")]
    public async Task MeshHedging()
    {
        using var response = await _meshHedging.GetAsync("/items");
    }

    [Benchmark(Description = "factory client with the mesh's own hedging (Hedging:Enabled, no hedging handler), 1 request")]
    public async Task MeshOwnHedging()
    {
        using var response = await _meshOwnHedging.GetAsync("/items");
    }

    [Benchmark(Description = "direct HttpClient, 1 request, a new path each time")]
    public async Task DirectUncached()
    {
        using var response = await _direct.GetAsync(_uncached[_next++ & 4095]);
    }

    [Benchmark(Description = "IHttpClientFactory client without the mesh, a new path each time")]
    public async Task FactoryUncached()
    {
        using var response = await _factory.GetAsync(_uncached[_next++ & 4095]);
    }

    [Benchmark(Description = "mesh handler (MeshHandlerFactory) in a plain HttpClient, a new path each time")]
    public async Task MeshBareUncached()
    {
        using var response = await _meshBare.GetAsync(_uncached[_next++ & 4095]);
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

    /// <summary>Bytes allocated per request by each single-request case, measured without BenchmarkDotNet (all
    /// threads, sequential requests, interleaved rounds, medians), with the wall-clock time and the process's CPU time per request (client and in-process
    /// server together): a quick check while changing the request path; BenchmarkDotNet's figures are the ones to quote.</summary>
    public async Task<List<(string Case, double Bytes, double Microseconds, double CpuMicroseconds)>> ProbeAllocationsAsync(int requests)
    {
        var cases = new (string, Func<Task>)[]
        {
            ("direct", Direct), ("factory, no mesh", Factory), ("mesh (factory)", Mesh), ("mesh (MeshHandlerFactory, plain HttpClient)", MeshBare),
            ("factory + resilience, no mesh", Resilient), ("factory + resilience + mesh", MeshResilient),
            ("factory + standard hedging + mesh", HedgedMesh), ("factory + AddMeshHedging", MeshHedging), ("factory + mesh, Hedging:Enabled", MeshOwnHedging),
            ("direct, new path", DirectUncached), ("factory, no mesh, new path", FactoryUncached), ("mesh (factory), new path", MeshUncached), ("mesh (MeshHandlerFactory), new path", MeshBareUncached),
        };
        // Interleaved rounds (every case once per round, the median of the rounds reported): the shared host's noise
        // falls on every case alike.
        const int Rounds = 7;
        var perRound = requests / Rounds;
        var samples = cases.Select(_ => (Bytes: new double[Rounds], Wall: new double[Rounds], Cpu: new double[Rounds])).ToArray();
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        foreach (var (_, run) in cases)
        {
            for (var i = 0; i < 500; i++)
            {
                await run();
            }
        }

        for (var round = 0; round < Rounds; round++)
        {
            for (var c = 0; c < cases.Length; c++)
            {
                var run = cases[c].Item2;
                process.Refresh();
                var cpuBefore = process.TotalProcessorTime;
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                var before = GC.GetTotalAllocatedBytes(precise: true);
                for (var i = 0; i < perRound; i++)
                {
                    await run();
                }

                samples[c].Bytes[round] = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)perRound;
                samples[c].Wall[round] = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMicroseconds / perRound;
                process.Refresh();
                samples[c].Cpu[round] = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / perRound;
            }
        }

        static double Median(double[] values) => values.Order().ElementAt(values.Length / 2);
        var results = new List<(string, double, double, double)>();
        for (var c = 0; c < cases.Length; c++)
        {
            results.Add((cases[c].Item1, Median(samples[c].Bytes), Median(samples[c].Wall), Median(samples[c].Cpu)));
        }

        return results;
    }

    /// <summary>Which types the mesh adds per request over the direct client (cached and new paths), estimated from
    /// sampled allocation events (<see cref="AllocationTypes"/>).</summary>
    public async Task ProbeAllocationTypesAsync(int requests)
    {
        await AllocationTypes.CompareAsync("direct", Direct, "mesh bare", MeshBare, requests);
        await AllocationTypes.CompareAsync("factory", Factory, "mesh", Mesh, requests);
        await AllocationTypes.CompareAsync("direct new", DirectUncached, "mesh bare new", MeshBareUncached, requests);
    }

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
