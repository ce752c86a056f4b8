using System.Net;
using DnsClient;
using DnsClient.Protocol;
using Mesh.Discovery.Dns.Internal;

namespace Mesh.Discovery.Tests.Dns;

public sealed class DnsEndpointMapperTests
{
    private const string Name = "_http._tcp.catalog.mesh.test";

    private static SrvRecord Srv(int priority, int weight, int port, string target, int ttl = 30) =>
        new(new ResourceRecordInfo(Name + ".", ResourceRecordType.SRV, QueryClass.IN, ttl, 0), (ushort)priority, (ushort)weight, (ushort)port, DnsString.Parse(target + "."));

    private static Func<string, CancellationToken, ValueTask<TargetAddresses>> Hosts(Dictionary<string, string[]> hosts, int ttl = 30) =>
        (target, _) => new(hosts.TryGetValue(target, out var ips)
            ? new TargetAddresses([.. ips.Select(IPAddress.Parse)], TimeSpan.FromSeconds(ttl), null)
            : TargetAddresses.NotFound($"{target} does not resolve"));

    private static ValueTask<DnsResolution> Map(IReadOnlyList<SrvRecord> records, Dictionary<string, string[]> hosts, int hostTtl = 30, string scheme = "http") =>
        DnsEndpointMapper.FromSrvAsync(Name, records, scheme, Hosts(hosts, hostTtl), CancellationToken.None);

    [Fact]
    public async Task Only_the_lowest_priority_group_is_used()
    {
        var result = await Map([Srv(10, 1, 8082, "b"), Srv(0, 1, 8081, "a")], new() { ["a"] = ["10.0.0.1"], ["b"] = ["10.0.0.2"] });

        Assert.Equal(["http://10.0.0.1:8081"], result.Endpoints.Select(e => e.Key));
    }

    [Fact]
    public async Task A_priority_group_without_usable_records_falls_through_to_the_next_one()
    {
        var result = await Map([Srv(0, 1, 8081, "gone"), Srv(5, 1, 8082, "b")], new() { ["b"] = ["10.0.0.2"] });

        Assert.Equal(["http://10.0.0.2:8082"], result.Endpoints.Select(e => e.Key));
        Assert.Contains(result.Skipped, s => s.Record.Contains("gone", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Srv_weight_becomes_the_endpoint_weight_and_zero_counts_as_one()
    {
        var result = await Map([Srv(0, 0, 8081, "a"), Srv(0, 7, 8082, "b")], new() { ["a"] = ["10.0.0.1"], ["b"] = ["10.0.0.2"] });

        Assert.Equal([1, 7], result.Endpoints.Select(e => e.Weight));
    }

    [Fact]
    public async Task Every_address_of_a_target_becomes_an_endpoint_with_the_record_weight_and_port()
    {
        var result = await Map([Srv(0, 4, 9000, "multi")], new() { ["multi"] = ["10.0.0.1", "10.0.0.2", "fd00::5"] }, scheme: "https");

        Assert.Equal(["https://10.0.0.1:9000", "https://10.0.0.2:9000", "https://[fd00::5]:9000"], result.Endpoints.Select(e => e.Address.GetLeftPart(UriPartial.Authority)));
        Assert.All(result.Endpoints, e => Assert.Equal(4, e.Weight));
    }

    [Fact]
    public async Task Malformed_records_are_skipped_and_named_while_valid_ones_stay()
    {
        var result = await Map(
            [Srv(0, 1, 0, "a"), Srv(0, 1, 8081, ""), Srv(0, 1, 8081, "nowhere"), Srv(0, 2, 8082, "b"), Srv(0, 1, 8082, "b")],
            new() { ["a"] = ["10.0.0.1"], ["b"] = ["10.0.0.2"] });

        Assert.Equal(["http://10.0.0.2:8082"], result.Endpoints.Select(e => e.Key));
        Assert.Equal(2, Assert.Single(result.Endpoints).Weight); // the first record for an address wins
        Assert.Equal(4, result.Skipped.Count);
        Assert.Contains(result.Skipped, s => s.Reason.Contains("port 0", StringComparison.Ordinal));
        Assert.Contains(result.Skipped, s => s.Reason.Contains("target '.'", StringComparison.Ordinal));
        Assert.Contains(result.Skipped, s => s.Reason.Contains("nowhere does not resolve", StringComparison.Ordinal));
        Assert.Contains(result.Skipped, s => s.Reason.Contains("listed by an earlier record", StringComparison.Ordinal));
    }

    [Fact]
    public async Task No_usable_record_at_all_is_a_failure_so_the_last_known_set_stays()
    {
        var error = await Assert.ThrowsAsync<DnsDiscoveryException>(async () => await Map([Srv(0, 1, 8081, "nowhere")], []));

        Assert.Contains("none of the 1 SRV records", error.Message, StringComparison.Ordinal);
        Assert.Contains("nowhere", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<DnsDiscoveryException>(async () => await Map([], []));
    }

    [Fact]
    public async Task The_refresh_time_is_the_smallest_ttl_of_the_records_used()
    {
        var result = await Map([Srv(0, 1, 8081, "a", ttl: 20), Srv(0, 1, 8082, "b", ttl: 60), Srv(9, 1, 8083, "c", ttl: 1)],
            new() { ["a"] = ["10.0.0.1"], ["b"] = ["10.0.0.2"], ["c"] = ["10.0.0.3"] }, hostTtl: 45);

        Assert.Equal(TimeSpan.FromSeconds(20), result.Ttl);
    }

    [Fact]
    public void The_refresh_time_is_clamped_to_the_floor_and_ceiling()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), DnsDiscoveryProvider.Clamp(TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)));
        Assert.Equal(TimeSpan.FromMinutes(5), DnsDiscoveryProvider.Clamp(TimeSpan.FromDays(1), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)));
        Assert.Equal(TimeSpan.FromSeconds(30), DnsDiscoveryProvider.Clamp(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void A_records_with_a_port_become_endpoints_and_no_address_is_a_failure()
    {
        var result = DnsEndpointMapper.FromAddresses("api.mesh.test", new TargetAddresses([IPAddress.Parse("10.0.0.9"), IPAddress.Parse("10.0.0.9")], TimeSpan.FromSeconds(5), null), 8080, "http");

        Assert.Equal(["http://10.0.0.9:8080"], result.Endpoints.Select(e => e.Key));
        Assert.Throws<DnsDiscoveryException>(() => DnsEndpointMapper.FromAddresses("api.mesh.test", TargetAddresses.NotFound("api.mesh.test does not resolve"), 8080, "http"));
    }
}
