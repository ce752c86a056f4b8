using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Mesh.Discovery.Etcd.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Benchmarks.Discovery;

/// <summary>
/// Applying a discovery update to a service of 10,000 endpoints (ServiceRuntime.SetSource: merge by key keeping the
/// state of endpoints that stay, then rebuild the picker). Target: under 50 ms per update, under 1 KB per endpoint.
/// "Allocated" divided by the endpoint count is the garbage per endpoint per update; the memory the service holds
/// per endpoint is printed by <see cref="RetainedMemory"/> (GC.GetTotalMemory deltas).
/// Run: dotnet run -c Release --project bench/Mesh.Benchmarks -- --filter '*EndpointUpdateBenchmarks*'
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
public class EndpointUpdateBenchmarks
{
    private const string Source = "Etcd";
    private ServiceRuntime _service = null!;
    private MeshEndpoint[] _base = null!;
    private MeshEndpoint[] _oneChanged = null!;
    private MeshEndpoint[] _oneAdded = null!;
    private MeshEndpoint[] _replaced = null!;
    private byte[][] _jsonBase = null!;
    private byte[][] _jsonOther = null!;
    private bool _flip;

    [Params(LoadBalancerKind.RoundRobin, LoadBalancerKind.WeightedRoundRobin, LoadBalancerKind.PeakEwma, LoadBalancerKind.ConsistentHash)]
    public LoadBalancerKind Balancer { get; set; }

    [Params(10_000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _base = Create(Endpoints, 10);
        _oneChanged = [.. _base];
        _oneChanged[Endpoints / 2] = new MeshEndpoint(_base[Endpoints / 2].Address, _base[Endpoints / 2].Weight + 5);
        _oneAdded = [.. _base, new MeshEndpoint("http://192.168.1.1:8080")];
        _replaced = Create(Endpoints, 11);
        _jsonBase = [.. _base.Select(Json)];
        _jsonOther = [.. _replaced.Select(Json)];
        _service = CreateService(Balancer);
        _service.SetSource(Source, _base);
    }

    internal static MeshEndpoint[] Create(int count, int firstOctet, bool sharedMetadata = false)
    {
        var shared = new Dictionary<string, string> { ["version"] = "v1" }.ToFrozenDictionary(StringComparer.Ordinal);
        return [.. Enumerable.Range(0, count).Select(i => new MeshEndpoint(
            string.Create(CultureInfo.InvariantCulture, $"http://{firstOctet}.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}:8080"),
            1 + (i % 3),
            i % 2 == 0 ? "eu-1a" : "eu-1b",
            sharedMetadata ? shared : new Dictionary<string, string> { ["version"] = "v1" }))];
    }

    internal static ServiceRuntime CreateService(LoadBalancerKind balancer)
    {
        var options = new MeshServiceOptions { LoadBalancer = balancer, Discovery = Source };
        var service = new ServiceRuntime("bench", new MeshEnvironment(TimeProvider.System), options, zone: null);
        service.Configure(options, zone: null);
        return service;
    }

    private static byte[] Json(MeshEndpoint e) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $$$"""{"Address":"{{{e.Key}}}","Weight":{{{e.Weight}}},"Zone":"{{{e.Zone}}}","Metadata":{"version":"v1"}}"""));

    [Benchmark(Description = "one endpoint's weight changed")]
    public int OneChanged()
    {
        _flip = !_flip;
        _service.SetSource(Source, _flip ? _oneChanged : _base);
        return _service.Endpoints.Length;
    }

    [Benchmark(Description = "one endpoint added or removed")]
    public int OneAdded()
    {
        _flip = !_flip;
        _service.SetSource(Source, _flip ? _oneAdded : _base);
        return _service.Endpoints.Length;
    }

    [Benchmark(Description = "all endpoints replaced")]
    public int AllReplaced()
    {
        _flip = !_flip;
        _service.SetSource(Source, _flip ? _replaced : _base);
        return _service.Endpoints.Length;
    }

    [Benchmark(Description = "etcd list parsed (JSON) + all replaced")]
    public int ParsedAndReplaced()
    {
        _flip = !_flip;
        var values = _flip ? _jsonOther : _jsonBase;
        var endpoints = new MeshEndpoint[values.Length];
        var metadata = new MetadataInterner(); // as the etcd provider does per service
        for (var i = 0; i < values.Length; i++)
        {
            EtcdEndpointRecord.TryParse(values[i], metadata, out var endpoint, out _);
            endpoints[i] = endpoint!;
        }

        _service.SetSource(Source, endpoints);
        return _service.Endpoints.Length;
    }
}

/// <summary>
/// The memory a service holds per endpoint (the published <see cref="MeshEndpoint"/>, its state and its share of the
/// picker), from GC.GetTotalMemory before and after a service of N endpoints is built. One operation builds and drops
/// one service; the printed line is the figure to read ("retained per endpoint").
/// Run: dotnet run -c Release --project bench/Mesh.Benchmarks -- --filter '*RetainedMemory*'
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class RetainedMemory
{
    [Params(LoadBalancerKind.RoundRobin, LoadBalancerKind.WeightedRoundRobin, LoadBalancerKind.PeakEwma, LoadBalancerKind.ConsistentHash)]
    public LoadBalancerKind Balancer { get; set; }

    [Params(10_000)]
    public int Endpoints { get; set; }

    /// <summary>false: every endpoint has its own metadata dictionary; true: equal label sets are shared, as the etcd
    /// provider does.</summary>
    [Params(false, true)]
    public bool SharedMetadata { get; set; }

    [Benchmark(Description = "build a service and measure what it holds")]
    public long Measure()
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var service = EndpointUpdateBenchmarks.CreateService(Balancer);
        service.SetSource("Etcd", EndpointUpdateBenchmarks.Create(Endpoints, 10, SharedMetadata));
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var perEndpoint = (after - before) / Endpoints;
        Console.WriteLine($"// retained per endpoint ({Balancer}, {Endpoints} endpoints, shared metadata {SharedMetadata}): {perEndpoint} bytes");
        GC.KeepAlive(service);
        return perEndpoint;
    }
}
