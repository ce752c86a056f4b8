using BenchmarkDotNet.Attributes;
using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;
using Mesh.LoadBalancing.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Benchmarks.LoadBalancing;

/// <summary>
/// The per-request cost of the mesh's hot path: one pick, and one pick with the full bookkeeping a request does
/// (in-flight counting, peak-EWMA update, outlier-detection outcome). Target: under 100 ns, 0 bytes allocated.
/// <c>Custom</c> is a balancer written against the public extension point (<see cref="MeshLoadBalancer"/>), picked
/// through the same snapshot and selector: what a user's balancer costs over a built-in one.
/// </summary>
[MemoryDiagnoser]
public class PickBenchmarks
{
    private ServiceRuntime _service = null!;
    private PickContext _context;

    [Params("RoundRobin", "WeightedRoundRobin", "Random", "LeastRequest", "PeakEwma", "ConsistentHash", CustomLeastInFlightBalancer.BalancerName)]
    public string Balancer { get; set; } = "PeakEwma";

    [Params(3, 100, 10_000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new MeshServiceOptions { LoadBalancerName = Balancer };
        for (var i = 0; i < Endpoints; i++)
        {
            // Unequal weights, so the weighted paths (alias tables, EDF schedule, weighted Maglev) are measured.
            options.Endpoints.Add(new MeshEndpointOptions { Address = $"http://10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}:8080", Weight = 1 + (i % 3) });
        }

        var env = new MeshEnvironment(TimeProvider.System) { Balancers = LoadBalancerCatalog.Create([new CustomLeastInFlightBalancer()]) };
        _service = new ServiceRuntime("bench", env, options, zone: null);
        _service.Configure(options, zone: null);
        _context = new PickContext(_service.Now(), 0x9E3779B97F4A7C15UL, _service.Settings.UsesHashing, 0);
        var index = 0;
        foreach (var endpoint in _service.Endpoints)
        {
            // Trusted estimates 1×, 2× and 3× apart, so PeakEwma's latency comparison (and its random draw) is measured.
            for (var sample = 0; sample < EndpointState.TrustedAfterSamples; sample++)
            {
                endpoint.ObserveRtt(100_000.0 * (1 + (index % 3)), _service.Now(), _service.Settings.Picker.DecayTicks);
            }

            index++;
        }
    }

    [Benchmark(Description = "pick")]
    public int Pick() => _service.Pick(_context, null, out _).Port;

    [Benchmark(Description = "pick + bookkeeping")]
    public int PickAndRecord()
    {
        var start = _service.Now();
        var endpoint = _service.Pick(_context, null, out var isProbe);
        endpoint.OnRequestStart();
        endpoint.OnRequestEnd(start, start + 2000, _service.Settings.Picker.DecayTicks, failed: false);
        _service.OnOutcome(endpoint, RequestOutcome.Success, isProbe, null);
        return endpoint.Port;
    }
}

/// <summary>A user's balancer, public API only: power of two choices on requests in flight per unit of weight, with
/// the weights copied once per snapshot and <see cref="Random.Shared"/> for the draws.</summary>
public sealed class CustomLeastInFlightBalancer() : MeshLoadBalancer(BalancerName)
{
    /// <summary>The name services select it by.</summary>
    public const string BalancerName = "Custom";

    /// <inheritdoc />
    public override MeshEndpointPicker CreatePicker(MeshPickerCandidates candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        return new Picker(candidates, [.. candidates.Select(c => c.Weight)]);
    }

    private sealed class Picker(MeshPickerCandidates candidates, double[] weights) : MeshEndpointPicker
    {
        public override int Pick(in MeshPickContext context)
        {
            var n = weights.Length;
            var a = Random.Shared.Next(n);
            var b = Random.Shared.Next(n - 1);
            if (b >= a)
            {
                b++;
            }

            return candidates[a].InFlight * weights[b] <= candidates[b].InFlight * weights[a] ? a : b;
        }
    }
}
