using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Mesh.Discovery.Etcd.Internal;

namespace Mesh.Benchmarks.Discovery;

/// <summary>
/// Where the time of an etcd list of 10,000 new values goes, before the mesh applies it: parsing the JSON values
/// (System.Text.Json source generation) into endpoints, and building the endpoints alone.
/// Run: dotnet run -c Release --project bench/Mesh.Benchmarks -- --filter '*EtcdEntryParseBenchmarks*'
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
public class EtcdEntryParseBenchmarks
{
    private byte[][] _values = null!;
    private string[] _addresses = null!;

    [Params(10_000)]
    public int Entries { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _addresses = [.. Enumerable.Range(0, Entries).Select(i => string.Create(CultureInfo.InvariantCulture, $"http://10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}:8080"))];
        _values = [.. _addresses.Select((a, i) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$$"""{"Address":"{{{a}}}","Weight":{{{1 + (i % 3)}}},"Zone":"eu-1a","Metadata":{"version":"v1"}}""")))];
    }

    [Benchmark(Description = "parse 10,000 values into endpoints")]
    public int Parse()
    {
        var metadata = new MetadataInterner();
        var count = 0;
        foreach (var value in _values)
        {
            count += EtcdEndpointRecord.TryParse(value, metadata, out _, out _) ? 1 : 0;
        }

        return count;
    }

    [Benchmark(Description = "build 10,000 endpoints (no JSON)")]
    public int Build()
    {
        var count = 0;
        foreach (var address in _addresses)
        {
            count += new MeshEndpoint(address, 2, "eu-1a").Weight;
        }

        return count;
    }
}
