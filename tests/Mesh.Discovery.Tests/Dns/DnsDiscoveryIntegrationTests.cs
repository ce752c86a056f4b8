using System.Diagnostics;
using System.Globalization;
using Mesh.Discovery.Tests.TestSupport;
using Mesh.Testing;
using Mesh.Tests.Shared;

namespace Mesh.Discovery.Tests.Dns;

/// <summary>Against a real dnsmasq started by the fixture (records with a TTL of 1 s), and real replicas.</summary>
[Collection(TimingSensitive.Name)]
public sealed class DnsDiscoveryIntegrationTests(DnsmasqServer dns) : IClassFixture<DnsmasqServer>, IAsyncLifetime
{
    private readonly List<InProcessReplica> _replicas = [];

    public async ValueTask InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            _replicas.Add(await InProcessReplica.StartAsync($"r{i}", cancellationToken: TestContext.Current.CancellationToken));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }
    }

    private int Port(int replica) => _replicas[replica].Port;

    private static string Srv(string name, string target, int port, int priority, int weight) =>
        string.Create(CultureInfo.InvariantCulture, $"srv-host={name},{target},{port},{priority},{weight}");

    private Dictionary<string, string?> Settings(string service, Dictionary<string, string?> dnsKeys) => new Dictionary<string, string?>
    {
        ["Mesh:Discovery:Dns:Server"] = dns.Server,
        ["Mesh:Discovery:Dns:QueryTimeout"] = "00:00:00.500",
        ["Mesh:Discovery:Dns:RetryBaseDelay"] = "00:00:00.100",
        ["Mesh:Discovery:Dns:RetryMaxDelay"] = "00:00:00.500",
        [$"Mesh:Services:{service}:Discovery"] = "Dns",
        [$"Mesh:Services:{service}:LoadBalancer"] = "WeightedRoundRobin",
        [$"Mesh:Services:{service}:SlowStart:Window"] = "00:00:00",
    }.Concat(dnsKeys.Select(p => KeyValuePair.Create($"Mesh:Services:{service}:Dns:{p.Key}", p.Value))).ToDictionary();

    [Fact]
    public async Task Srv_weights_become_endpoint_weights_and_only_the_lowest_priority_group_gets_traffic()
    {
        dns.EnsureAvailable();
        const string name = "_http._tcp.catalog.mesh.test";
        await dns.SetRecordsAsync(
        [
            Srv(name, "r0.mesh.test", Port(0), 0, 1),
            Srv(name, "r1.mesh.test", Port(1), 0, 3),
            Srv(name, "missing.mesh.test", 9, 0, 5), // does not resolve: skipped with a log line
            Srv(name, "r2.mesh.test", Port(2), 10, 50), // backup group: unused while priority 0 has endpoints
            "host-record=r0.mesh.test,127.0.0.1",
            "host-record=r1.mesh.test,127.0.0.1",
            "host-record=r2.mesh.test,127.0.0.1",
        ]);
        await using var client = MeshClientHost.Start(Settings("catalog", new() { ["Name"] = name }), "catalog");
        await MeshClientHost.WaitUntilAsync(() => client.Endpoints("catalog").Count == 2, TimeSpan.FromSeconds(5), "the SRV records are resolved");

        var report = await client.SendAsync("catalog", 400);

        report.AssertNoFailures();
        Assert.Equal(100, report.CountOf("r0"));
        Assert.Equal(300, report.CountOf("r1"));
        Assert.Equal(0, report.CountOf("r2"));
        var weights = client.Monitor.GetService("catalog").Endpoints.ToDictionary(e => e.Endpoint.Address.Port, e => e.Endpoint.Weight);
        Assert.Equal(1, weights[Port(0)]);
        Assert.Equal(3, weights[Port(1)]);
        Assert.Contains(client.Logs.GetSnapshot(), r => r.Id.Name == "DnsRecordSkipped" && r.Message.Contains("missing.mesh.test", StringComparison.Ordinal));
        Assert.Null(client.Problem("catalog"));
    }

    [Fact]
    public async Task A_record_change_is_picked_up_after_the_ttl()
    {
        dns.EnsureAvailable();
        const string name = "_http._tcp.inventory.mesh.test";
        await dns.SetRecordsAsync([Srv(name, "r0.mesh.test", Port(0), 0, 1), "host-record=r0.mesh.test,127.0.0.1", "host-record=r1.mesh.test,127.0.0.1"]);
        await using var client = MeshClientHost.Start(Settings("inventory", new() { ["Name"] = name }), "inventory");
        await MeshClientHost.WaitUntilAsync(() => client.Endpoints("inventory").Count == 1, TimeSpan.FromSeconds(5), "the first record is resolved");

        var changed = Stopwatch.StartNew();
        await dns.SetRecordsAsync(
        [
            Srv(name, "r0.mesh.test", Port(0), 0, 1),
            Srv(name, "r1.mesh.test", Port(1), 0, 2),
            "host-record=r0.mesh.test,127.0.0.1",
            "host-record=r1.mesh.test,127.0.0.1",
        ]);
        await MeshClientHost.WaitUntilAsync(() => client.Endpoints("inventory").Count == 2, TimeSpan.FromSeconds(5), "the added record is resolved");
        var seen = changed.Elapsed;

        // TTL 1 s, refresh floor 1 s: the change is seen within one TTL (plus a retry if the refresh hit the restart).
        Assert.True(seen < TimeSpan.FromSeconds(DnsmasqServer.Ttl + 1.5), $"the change was seen after {seen.TotalMilliseconds:0} ms");
        var report = await client.SendAsync("inventory", 30);
        report.AssertNoFailures();
        Assert.Equal(10, report.CountOf("r0"));
        Assert.Equal(20, report.CountOf("r1"));
        TestContext.Current.SendDiagnosticMessage($"DNS record change seen after {seen.TotalMilliseconds:0} ms (TTL {DnsmasqServer.Ttl} s)");
    }

    [Fact]
    public async Task A_host_name_with_a_port_is_resolved_by_a_records()
    {
        dns.EnsureAvailable();
        await dns.SetRecordsAsync(["host-record=api.mesh.test,127.0.0.1"]);
        await using var client = MeshClientHost.Start(
            Settings("api", new() { ["Name"] = "api.mesh.test", ["Port"] = Port(2).ToString(CultureInfo.InvariantCulture) }), "api");
        await MeshClientHost.WaitUntilAsync(() => client.Endpoints("api").Count == 1, TimeSpan.FromSeconds(5), "the A record is resolved");

        var report = await client.SendAsync("api", 5);

        report.AssertNoFailures();
        Assert.Equal(5, report.CountOf("r2"));
        Assert.Equal($"http://127.0.0.1:{Port(2)}", Assert.Single(client.Endpoints("api")));
    }

    [Fact]
    public async Task The_dns_server_down_keeps_the_last_known_set_with_zero_failed_requests_and_reports_it()
    {
        dns.EnsureAvailable();
        const string name = "_http._tcp.ledger.mesh.test";
        string[] records = [Srv(name, "r0.mesh.test", Port(0), 0, 1), Srv(name, "r1.mesh.test", Port(1), 0, 1), "host-record=r0.mesh.test,127.0.0.1", "host-record=r1.mesh.test,127.0.0.1"];
        await dns.SetRecordsAsync(records);
        await using var client = MeshClientHost.Start(Settings("ledger", new() { ["Name"] = name }), "ledger");
        await MeshClientHost.WaitUntilAsync(() => client.Endpoints("ledger").Count == 2, TimeSpan.FromSeconds(5), "the records are resolved");

        await using var load = client.StartLoad("ledger", workers: 2);
        TrafficReport report;
        try
        {
            await dns.StopAsync();
            await MeshClientHost.WaitUntilAsync(() => client.Problem("ledger") is not null, TimeSpan.FromSeconds(5), "the failed refresh is reported");
            await Task.Delay(1000, TestContext.Current.CancellationToken);
            Assert.Equal(2, client.Endpoints("ledger").Count);
            Assert.Contains(name, client.Problem("ledger"), StringComparison.Ordinal);
            var health = await client.HealthAsync();
            Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, health.Status);
            Assert.Contains("discovery failing", health.Entries["mesh"].Description, StringComparison.Ordinal);

            await dns.SetRecordsAsync(records);
            await MeshClientHost.WaitUntilAsync(() => client.Problem("ledger") is null, TimeSpan.FromSeconds(5), "the problem clears when DNS answers again");
            Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await client.HealthAsync()).Status);
        }
        finally
        {
            report = await load.StopAsync();
        }

        report.AssertNoFailures();
        Assert.True(report.CountOf("r0") > 0 && report.CountOf("r1") > 0, report.ToString());
    }
}
