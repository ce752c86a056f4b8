using Mesh.Testing;
using Mesh.Tests.TestSupport;

namespace Mesh.Tests.LoadBalancing;

/// <summary>Balancers against real Kestrel replicas on loopback.</summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class BalancingIntegrationTests
{
    private static Dictionary<string, string?> Balancer(string name, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?> { ["Mesh:Services:catalog:LoadBalancer"] = name };
        foreach (var (k, v) in more ?? [])
        {
            settings[k] = v;
        }

        return settings;
    }

    [Fact]
    public async Task RoundRobin_spreads_requests_evenly_over_replicas()
    {
        await using var host = await MeshTestHost.StartAsync(3, Balancer("RoundRobin"));

        var (perReplica, failures) = await host.SendAsync(300);

        Assert.Empty(failures);
        Assert.Equal(3, perReplica.Count);
        Assert.All(perReplica.Values, n => Assert.Equal(100, n));
    }

    [Fact]
    public async Task WeightedRoundRobin_gives_exactly_one_to_three_over_4000_requests()
    {
        await using var host = await MeshTestHost.StartAsync(2, Balancer("WeightedRoundRobin"), weights: [1, 3]);

        var (perReplica, failures) = await host.SendConcurrentAsync(4000, concurrency: 4);

        Assert.Empty(failures);
        Assert.Equal(1000, perReplica["r0"]);
        Assert.Equal(3000, perReplica["r1"]);
    }

    [Fact]
    public async Task Random_follows_weights_one_to_three_within_a_few_percent()
    {
        await using var host = await MeshTestHost.StartAsync(2, Balancer("Random"), weights: [1, 3]);

        var (perReplica, failures) = await host.SendConcurrentAsync(4000, concurrency: 4);

        Assert.Empty(failures);
        var share = perReplica["r1"] / 4000.0;
        Assert.InRange(share, 0.72, 0.78);
    }

    [Theory]
    [InlineData("PeakEwma")]
    [InlineData("LeastRequest")]
    public async Task Load_aware_balancers_send_a_30ms_slower_replica_far_less_than_its_share(string balancer)
    {
        await using var host = await MeshTestHost.StartAsync(3, Balancer(balancer));
        host.Replicas[2].Behavior.Latency = TimeSpan.FromMilliseconds(30);

        var (perReplica, failures) = await host.SendConcurrentAsync(1500, concurrency: 8);

        Assert.Empty(failures);
        var slowShare = perReplica.GetValueOrDefault("r2") / 1500.0;
        Assert.True(slowShare < 0.15, $"{balancer} sent {slowShare:P1} of requests to the slow replica (fair share 33%)");
    }

    [Fact]
    public async Task ConsistentHash_sends_each_key_to_the_same_replica()
    {
        await using var host = await MeshTestHost.StartAsync(3, Balancer("ConsistentHash", new() { ["Mesh:Services:catalog:HashHeader"] = "x-user-id" }));
        var owners = new Dictionary<string, string>();

        for (var round = 0; round < 3; round++)
        {
            for (var user = 0; user < 60; user++)
            {
                using var response = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { { "x-user-id", $"user-{user}" } } }, TestContext.Current.CancellationToken);
                var replica = response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single();
                Assert.Equal(owners.GetValueOrDefault($"user-{user}", replica), replica);
                owners[$"user-{user}"] = replica;
            }
        }

        Assert.Equal(3, owners.Values.Distinct().Count());
    }

    [Fact]
    public async Task ConsistentHash_key_can_be_set_per_request()
    {
        await using var host = await MeshTestHost.StartAsync(3, Balancer("ConsistentHash"));
        var seen = new HashSet<string>();

        for (var i = 0; i < 20; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Options.Set(MeshRequestOptions.HashKey, "tenant-7");
            using var response = await host.Client.SendAsync(request, TestContext.Current.CancellationToken);
            seen.Add(response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single());
        }

        Assert.Single(seen);
    }

    [Fact]
    public async Task Traffic_split_sends_ninety_percent_to_v1_and_ten_to_v2()
    {
        await using var host = await MeshTestHost.StartAsync(3, Balancer("RoundRobin", new()
        {
            ["Mesh:Services:catalog:Endpoints:0:Metadata:version"] = "v1",
            ["Mesh:Services:catalog:Endpoints:1:Metadata:version"] = "v1",
            ["Mesh:Services:catalog:Endpoints:2:Metadata:version"] = "v2",
            ["Mesh:Services:catalog:TrafficSplit:MetadataKey"] = "version",
            ["Mesh:Services:catalog:TrafficSplit:Weights:v1"] = "90",
            ["Mesh:Services:catalog:TrafficSplit:Weights:v2"] = "10",
        }));

        var (perReplica, failures) = await host.SendAsync(1000);

        Assert.Empty(failures);
        Assert.Equal(100, perReplica["r2"]);
        Assert.Equal(900, perReplica["r0"] + perReplica["r1"]);
    }

    [Fact]
    public async Task Zone_awareness_keeps_traffic_in_the_local_zone_while_it_is_healthy()
    {
        await using var host = await MeshTestHost.StartAsync(3, Balancer("RoundRobin", new()
        {
            ["Mesh:Zone"] = "eu-1a",
            ["Mesh:Services:catalog:Endpoints:0:Zone"] = "eu-1a",
            ["Mesh:Services:catalog:Endpoints:1:Zone"] = "eu-1b",
            ["Mesh:Services:catalog:Endpoints:2:Zone"] = "eu-1b",
        }));

        var (perReplica, failures) = await host.SendAsync(60);

        Assert.Empty(failures);
        Assert.Equal(60, perReplica["r0"]);
    }

    [Fact]
    public async Task Zone_awareness_spills_over_when_the_local_zone_has_no_healthy_endpoint()
    {
        await using var host = await MeshTestHost.StartAsync(3, Balancer("RoundRobin", new()
        {
            ["Mesh:Zone"] = "eu-1a",
            ["Mesh:Services:catalog:Endpoints:0:Zone"] = "eu-1a",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "2",
        }));
        await host.Replicas[0].StopAsync();

        await host.SendAsync(4); // the local endpoint fails twice and is ejected
        var (perReplica, failures) = await host.SendAsync(40);

        Assert.Empty(failures);
        Assert.Equal(40, perReplica.GetValueOrDefault("r1") + perReplica.GetValueOrDefault("r2"));
    }
}
