using System.Globalization;
using System.Net;
using CsCheck;
using DnsClient;
using DnsClient.Protocol;
using Mesh.Discovery.Dns.Internal;
using Mesh.Tests.Fuzzing;

namespace Mesh.Discovery.Tests.Dns;

/// <summary>
/// Property-based fuzzing of the DNS answer mapper (docs/fuzzing.md): SRV record sets of any size with any priorities,
/// weights (0 included), ports (0 included), targets ('.', empty, trailing dots, unknown, very long), TTLs (negative ones
/// too: a TTL with its top bit set arrives as a negative int), and targets resolving to IPv4, IPv6 (scoped, mapped),
/// duplicate, unspecified addresses, to nothing, or not at all. Properties: the mapper returns a resolution or throws
/// <see cref="DnsDiscoveryException"/> only; every record of the groups it looked at is used or skipped with a reason
/// that names it; endpoints are unique, sorted and come from one priority group; the refresh time is never negative.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class DnsEndpointMapperFuzzTests
{
    private const string Name = "_http._tcp.catalog.mesh.test";

    private static readonly string[] Targets = ["a", "b", "c", "d", "nowhere", ".", "", "a.", "a..", "A", "x y", string.Join('.', Enumerable.Repeat(new string('l', 63), 3))];

    private sealed record Record(int Priority, int Weight, int Port, string Target, int Ttl)
    {
        public SrvRecord ToSrv() => new(
            new ResourceRecordInfo(Name + ".", ResourceRecordType.SRV, QueryClass.IN, Ttl, 0), (ushort)Priority, (ushort)Weight, (ushort)Port,
            DnsString.Parse(Target.EndsWith('.') ? Target : Target + "."));

        public override string ToString() => $"SRV {Priority} {Weight} {Port} '{Target}' ttl={Ttl}";
    }

    private static readonly Gen<Record> RecordGen = Gen.Select(
        Gen.Frequency((6, Gen.Int[0, 2]), (1, Gen.Int[0, 65535])),
        Gen.Frequency((3, Gen.Int[0, 10]), (1, Gen.OneOf(0, 65535)), (1, Gen.Int[0, 65535])),
        Gen.Frequency((6, Gen.Int[8080, 8083]), (2, Gen.OneOf(0, 1, 65535))),
        Gen.OneOf(Targets),
        Gen.Frequency((6, Gen.Int[0, 3600]), (1, Gen.OneOf(0, int.MaxValue, int.MinValue, -1))),
        (priority, weight, port, target, ttl) => new Record(priority, weight, port, target, ttl));

    private static readonly Gen<IPAddress> AddressGen = Gen.Frequency(
        (6, Gen.Int[1, 4].Select(n => IPAddress.Parse($"10.0.0.{n}"))),
        (2, Gen.OneOf("fd00::1", "fd00::2", "fe80::1%1", "::ffff:10.0.0.1", "::1", "127.0.0.1").Select(IPAddress.Parse)),
        (1, Gen.OneOf("0.0.0.0", "::", "255.255.255.255", "224.0.0.1").Select(IPAddress.Parse)));

    /// <summary>What each known target resolves to: addresses (possibly none, possibly repeated) with a TTL, or a problem.</summary>
    private static readonly Gen<Dictionary<string, TargetAddresses>> HostsGen =
        Gen.Select(
                Gen.Frequency((8, AddressGen.Array[1, 4]), (1, AddressGen.Array[0]), (1, AddressGen.Array[20, 60])),
                Gen.Frequency((6, Gen.Int[0, 600]), (1, Gen.OneOf(-5, int.MaxValue))),
                Gen.Frequency((8, Gen.Const(false)), (1, Gen.Const(true))),
                (addresses, ttl, problem) => problem ? TargetAddresses.NotFound("does not resolve (A: NXDOMAIN)") : new TargetAddresses(addresses, TimeSpan.FromSeconds(ttl), null))
            .Array[4]
            .Select(results => new Dictionary<string, TargetAddresses>(StringComparer.Ordinal)
            {
                ["a"] = results[0], ["b"] = results[1], ["c"] = results[2], ["d"] = results[3],
            });

    private static readonly Gen<(Record[] Records, Dictionary<string, TargetAddresses> Hosts, bool Https)> Input = Gen.Select(
        Gen.Frequency((20, RecordGen.Array[0, 8]), (1, RecordGen.Array[200, 2000])),
        HostsGen,
        Gen.Bool);

    [Fact]
    public void Every_srv_record_looked_at_is_used_or_skipped_with_a_reason_and_only_DnsDiscoveryException_escapes()
    {
        FuzzCheck.Run(Input, input =>
        {
            var (records, hosts, https) = input;
            var scheme = https ? "https" : "http";
            var srv = records.Select(r => r.ToSrv()).ToList();
            DnsResolution result;
            try
            {
                result = DnsEndpointMapper.FromSrvAsync(Name, srv, scheme, Resolver(hosts), CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }
            catch (DnsDiscoveryException e)
            {
                Assert.Contains(Name, e.Message, StringComparison.Ordinal);
                Assert.DoesNotContain(records, r => UsableTargets(r, hosts) && r.Port != 0); // a usable record exists: the mapper should have used it
                return;
            }

            Assert.NotEmpty(result.Endpoints);
            Assert.True(result.Ttl >= TimeSpan.Zero, $"negative refresh time {result.Ttl}");
            var keys = result.Endpoints.Select(e => e.Key).ToList();
            Assert.Equal(keys.Distinct(StringComparer.Ordinal).Count(), keys.Count);
            Assert.Equal(keys.Order(StringComparer.Ordinal), keys);
            Assert.All(result.Endpoints, e => Assert.Equal(scheme, e.Address.Scheme));

            // The group used is the lowest priority with a usable record; every record of it and of the groups before
            // it is used (an endpoint on its port) or skipped, named by its target and port, with a reason.
            var chosen = records.Where(r => r.Port != 0 && UsableTargets(r, hosts)).Min(r => r.Priority);
            Assert.All(result.Endpoints, e => Assert.Contains(records, r => r.Priority == chosen && r.Port == e.Address.Port));
            foreach (var record in records.Where(r => r.Priority <= chosen))
            {
                var used = record.Priority == chosen && record.Port != 0 && UsableTargets(record, hosts) &&
                           result.Endpoints.Any(e => e.Address.Port == record.Port && hosts[Trimmed(record.Target)].Addresses.Any(a => SameHost(a, e)));
                var skipped = result.Skipped.Any(s =>
                    s.Record.Contains(record.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal) &&
                    s.Record.Contains(record.Target.TrimEnd('.'), StringComparison.Ordinal) && !string.IsNullOrWhiteSpace(s.Reason));
                Assert.True(used || skipped, $"{record} was neither used nor skipped with a reason");
            }
        }, cases: 400, print: i => $"records=[{string.Join("; ", i.Records.Take(20).Select(r => r.ToString()))}{(i.Records.Length > 20 ? $"; ... {i.Records.Length} in all" : "")}] hosts=[{string.Join("; ", i.Hosts.Select(h => $"{h.Key}: {Show(h.Value)}"))}] https={i.Https}");
    }

    [Fact]
    public void Address_answers_become_unique_sorted_endpoints_or_DnsDiscoveryException()
    {
        var gen = Gen.Select(HostsGen, Gen.Frequency((6, Gen.Int[1, 65535]), (1, Gen.OneOf(80, 443))), Gen.Bool);
        FuzzCheck.Run(gen, input =>
        {
            var (hosts, port, https) = input;
            var answer = hosts["a"];
            DnsResolution result;
            try
            {
                result = DnsEndpointMapper.FromAddresses("api.mesh.test", answer, port, https ? "https" : "http");
            }
            catch (DnsDiscoveryException e)
            {
                Assert.NotNull(answer.Problem);
                Assert.Contains("api.mesh.test", e.Message, StringComparison.Ordinal);
                return;
            }

            var keys = result.Endpoints.Select(e => e.Key).ToList();
            Assert.Equal(keys.Distinct(StringComparer.Ordinal).Count(), keys.Count);
            Assert.Equal(keys.Order(StringComparer.Ordinal), keys);
            Assert.All(result.Endpoints, e => Assert.Equal(port, e.Address.Port));
            Assert.Equal(answer.Addresses.Select(a => Normalized(a)).Distinct().Count(), keys.Count);
        }, cases: 1_000, print: i => $"a: {Show(i.Item1["a"])} port={i.Item2} https={i.Item3}");
    }

    // ---------------------------------------------------------------- regressions found by the properties above

    [Fact]
    public async Task A_negative_ttl_gives_a_refresh_time_of_zero_not_a_negative_one()
    {
        // Shrunk by CsCheck: a TTL with its top bit set (DnsClient hands it over as a negative int) made the refresh
        // time negative; RFC 2181 section 8 reads such a TTL as 0.
        var records = new[] { new Record(0, 1, 8081, "a", -1).ToSrv() };
        var hosts = new Dictionary<string, TargetAddresses>(StringComparer.Ordinal) { ["a"] = new([IPAddress.Parse("10.0.0.1")], TimeSpan.FromSeconds(-5), null) };

        var result = await DnsEndpointMapper.FromSrvAsync(Name, records, "http", Resolver(hosts), CancellationToken.None);

        Assert.Equal(TimeSpan.Zero, result.Ttl);
        Assert.Equal(TimeSpan.Zero, DnsEndpointMapper.FromAddresses("api.mesh.test", hosts["a"], 8080, "http").Ttl);
    }

    [Fact]
    public async Task A_target_that_resolves_to_no_address_is_skipped_with_a_reason()
    {
        // Found by the property: such a record was dropped without a word (neither used nor in Skipped).
        var records = new[] { new Record(0, 1, 8081, "empty", 30).ToSrv(), new Record(0, 1, 8082, "a", 30).ToSrv() };
        var hosts = new Dictionary<string, TargetAddresses>(StringComparer.Ordinal)
        {
            ["empty"] = new([], TimeSpan.FromSeconds(30), null),
            ["a"] = new([IPAddress.Parse("10.0.0.1")], TimeSpan.FromSeconds(30), null),
        };

        var result = await DnsEndpointMapper.FromSrvAsync(Name, records, "http", Resolver(hosts), CancellationToken.None);

        var skipped = Assert.Single(result.Skipped);
        Assert.Contains("8081 empty", skipped.Record, StringComparison.Ordinal);
        Assert.Contains("no address", skipped.Reason, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- helpers

    private static Func<string, CancellationToken, ValueTask<TargetAddresses>> Resolver(Dictionary<string, TargetAddresses> hosts) =>
        (target, _) => new(hosts.TryGetValue(target, out var answer) ? answer : TargetAddresses.NotFound($"{target} does not resolve"));

    private static string Trimmed(string target) => target.TrimEnd('.');

    /// <summary>Whether the record's target resolves to at least one address (so the record can give an endpoint).</summary>
    private static bool UsableTargets(Record record, Dictionary<string, TargetAddresses> hosts) =>
        hosts.TryGetValue(Trimmed(record.Target), out var answer) && answer.Problem is null && answer.Addresses.Count > 0;

    private static bool SameHost(IPAddress address, MeshEndpoint endpoint) =>
        string.Equals(endpoint.Address.IdnHost.Trim('[', ']'), Normalized(address).ToString(), StringComparison.OrdinalIgnoreCase);

    private static IPAddress Normalized(IPAddress address) => new(address.GetAddressBytes());

    private static string Show(TargetAddresses answer) => answer.Problem ?? $"[{string.Join(", ", answer.Addresses.Take(6))}{(answer.Addresses.Count > 6 ? $", ... {answer.Addresses.Count}" : "")}] ttl={answer.Ttl.TotalSeconds}";
}
