using System.Globalization;
using Mesh.Discovery.Tests.TestSupport;
using Mesh.Testing;
using Mesh.Tests.Shared;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Discovery.Tests.Dns;

/// <summary>Quiet, useful logs during a DNS outage: one Warning, Debug retries, one Information on recovery; no stack
/// traces. Real dnsmasq, stopped and started under a running app.</summary>
[Collection(TimingSensitive.Name)]
public sealed class DnsOutageLogTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_dns_outage_logs_one_warning_then_debug_retries_then_one_recovery()
    {
        await using var dns = new DnsmasqServer();
        await dns.InitializeAsync();
        dns.EnsureAvailable();
        await using var replica = await InProcessReplica.StartAsync("s1", cancellationToken: Token);
        const string name = "_http._tcp.search.mesh.test";
        string[] records =
        [
            string.Create(CultureInfo.InvariantCulture, $"srv-host={name},s1.mesh.test,{replica.Port},0,1"),
            "host-record=s1.mesh.test,127.0.0.1",
        ];
        await dns.SetRecordsAsync(records);
        var logs = new FakeLogCollector();
        using var host = AppHost.Build(new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Dns:Server"] = dns.Server,
            ["Mesh:Discovery:Dns:QueryTimeout"] = "00:00:00.200",
            ["Mesh:Discovery:Dns:RetryBaseDelay"] = "00:00:00.050",
            ["Mesh:Discovery:Dns:RetryMaxDelay"] = "00:00:00.100",
            ["Mesh:Services:search:Discovery"] = "Dns",
            ["Mesh:Services:search:Dns:Name"] = name,
        }, logs, "search");
        await host.StartAsync(Token);
        (await host.Client("search").GetAsync("/", Token)).EnsureSuccessStatusCode();

        await dns.StopAsync();
        await MeshClientHost.WaitUntilAsync(() => logs.GetSnapshot().Count(r => r.Id.Name == "DiscoveryStillFailing") >= 3, TimeSpan.FromSeconds(20), "several refreshes failed");
        await dns.SetRecordsAsync(records);
        await MeshClientHost.WaitUntilAsync(() => logs.GetSnapshot().Any(r => r.Id.Name == "DiscoveryRecovered"), TimeSpan.FromSeconds(20), "the source recovered");

        var all = logs.GetSnapshot();
        var failed = Assert.Single(all, r => r.Id.Name == "DiscoveryFailed");
        Assert.Equal(LogLevel.Warning, failed.Level);
        Assert.Null(failed.Exception);
        Assert.All(all.Where(r => r.Id.Name == "DiscoveryStillFailing"), r => Assert.Equal(LogLevel.Debug, r.Level));
        Assert.Equal(LogLevel.Information, Assert.Single(all, r => r.Id.Name == "DiscoveryRecovered").Level);
        Assert.DoesNotContain(all, r => r.Level >= LogLevel.Warning && r.Exception is not null);
        await host.StopAsync(Token);
    }
}
