using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;
using Mesh.LoadBalancing.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Tests.LoadBalancing;

/// <summary>Balancer properties that need no network: proportions, stickiness, key movement.</summary>
public sealed class PickerTests
{
    private static ServiceRuntime Service(LoadBalancerKind kind, params int[] weights)
    {
        var options = new MeshServiceOptions { LoadBalancer = kind };
        for (var i = 0; i < weights.Length; i++)
        {
            options.Endpoints.Add(new MeshEndpointOptions { Address = $"http://10.0.{i / 256}.{i % 256}:80", Weight = weights[i] });
        }

        var service = new ServiceRuntime("svc", new MeshEnvironment(TimeProvider.System), options, zone: null);
        service.Configure(options, zone: null);
        return service;
    }

    private static EndpointState Pick(ServiceRuntime service, ulong? hash = null) =>
        service.Pick(new PickContext(service.Now(), hash ?? 0, hash is not null, 0), null, out _);

    [Theory]
    [InlineData(LoadBalancerKind.LeastRequest)]
    [InlineData(LoadBalancerKind.Random)]
    public void Idle_weighted_endpoints_get_traffic_in_proportion_to_their_weights(LoadBalancerKind kind)
    {
        var service = Service(kind, 3, 1);
        var heavy = service.Endpoints[0];

        var share = Enumerable.Range(0, 40_000).Count(_ => ReferenceEquals(Pick(service), heavy)) / 40_000.0;

        Assert.InRange(share, 0.73, 0.77);
    }

    [Fact]
    public void Least_request_prefers_the_endpoint_with_fewer_requests_in_flight()
    {
        var service = Service(LoadBalancerKind.LeastRequest, 1, 1);
        for (var i = 0; i < 10; i++)
        {
            service.Endpoints[0].OnRequestStart();
        }

        Assert.All(Enumerable.Range(0, 200), _ => Assert.Same(service.Endpoints[1], Pick(service)));
    }

    [Fact]
    public void Weighted_round_robin_is_exact_in_every_cycle()
    {
        var service = Service(LoadBalancerKind.WeightedRoundRobin, 5, 3, 2);

        for (var cycle = 0; cycle < 20; cycle++)
        {
            var counts = Enumerable.Range(0, 10).Select(_ => Pick(service)).GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal([5, 3, 2], service.Endpoints.Select(e => counts.GetValueOrDefault(e.Key)));
        }
    }

    [Fact]
    public void Maglev_moves_about_one_nth_of_the_keys_when_one_of_n_endpoints_is_removed()
    {
        const int n = 10;
        var full = Service(LoadBalancerKind.ConsistentHash, Enumerable.Repeat(1, n).ToArray());
        var keys = Enumerable.Range(0, 20_000).Select(i => MaglevPicker.HashKey($"user-{i}")).ToArray();
        var before = keys.Select(k => Pick(full, k).Key).ToArray();

        var options = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.ConsistentHash };
        foreach (var e in full.Endpoints.Skip(1))
        {
            options.Endpoints.Add(new MeshEndpointOptions { Address = e.Key });
        }

        full.Configure(options, zone: null);
        var after = keys.Select(k => Pick(full, k).Key).ToArray();
        var moved = keys.Where((_, i) => before[i] != after[i]).Count();
        var movedFromRemaining = keys.Where((_, i) => before[i] != after[i] && before[i] != "http://10.0.0.0:80").Count();

        Assert.InRange(moved / (double)keys.Length, 0.08, 0.14);                   // ≈ 1/n of all keys (those of the removed endpoint)...
        Assert.True(movedFromRemaining / (double)keys.Length < 0.02, $"{movedFromRemaining} keys of remaining endpoints moved"); // ...and almost nothing else
    }

    [Fact]
    public void Maglev_spreads_keys_in_proportion_to_weights()
    {
        var service = Service(LoadBalancerKind.ConsistentHash, 1, 2, 1);
        var counts = Enumerable.Range(0, 40_000).Select(i => Pick(service, MaglevPicker.HashKey($"k{i}")).Key).GroupBy(k => k).ToDictionary(g => g.Key, g => g.Count() / 40_000.0);

        Assert.InRange(counts[service.Endpoints[1].Key], 0.46, 0.54);
    }
}
