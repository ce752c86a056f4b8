using dotnet_etcd;
using Mesh.Discovery.Tests.TestSupport;
using Mesh.Testing;
using Mesh.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Discovery.Tests.Etcd;

/// <summary>
/// Quiet, useful logs during a registry outage: one Warning when the source starts failing (its reason, no stack trace,
/// no internal type name), Debug for each further retry, one Information when it recovers. Real etcd, killed and
/// restarted under a running app.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class EtcdOutageLogTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_etcd_outage_logs_one_warning_then_debug_retries_then_one_recovery()
    {
        await using var etcd = new EtcdServer();
        await etcd.InitializeAsync();
        etcd.EnsureAvailable();
        await using var replica = await InProcessReplica.StartAsync("o1", cancellationToken: Token);
        using (var writer = new EtcdClient(etcd.Url))
        {
            await writer.PutAsync("/mesh/services/orders/o1", $$"""{"Address": "{{replica.Address.ToString().TrimEnd('/')}}"}""", cancellationToken: Token);
        }

        var logs = new FakeLogCollector();
        using var host = AppHost.Build(new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Etcd:Endpoints"] = etcd.Url,
            ["Mesh:Discovery:Etcd:RetryBaseDelay"] = "00:00:00.050",
            ["Mesh:Discovery:Etcd:RetryMaxDelay"] = "00:00:00.100",
            ["Mesh:Services:orders:Discovery"] = "Etcd",
        }, logs, "orders");
        await host.StartAsync(Token);
        (await host.Client("orders").GetAsync("/", Token)).EnsureSuccessStatusCode();

        await etcd.StopAsync();
        await MeshClientHost.WaitUntilAsync(() => logs.GetSnapshot().Count(r => r.Id.Name == "DiscoveryStillFailing") >= 5, TimeSpan.FromSeconds(15), "several retries failed");
        (await host.Client("orders").GetAsync("/", Token)).EnsureSuccessStatusCode(); // the last known set stays in use
        await etcd.StartAsync();
        await MeshClientHost.WaitUntilAsync(() => logs.GetSnapshot().Any(r => r.Id.Name == "DiscoveryRecovered"), TimeSpan.FromSeconds(15), "the source recovered");

        var records = logs.GetSnapshot();
        var failed = Assert.Single(records, r => r.Id.Name == "DiscoveryFailed");
        Assert.Equal(LogLevel.Warning, failed.Level);
        Assert.Null(failed.Exception);
        Assert.Contains(etcd.Url.Replace("http://", "", StringComparison.Ordinal), failed.Message, StringComparison.Ordinal);
        Assert.All(records.Where(r => r.Id.Name == "DiscoveryStillFailing"), r => Assert.Equal(LogLevel.Debug, r.Level));
        var recovered = Assert.Single(records, r => r.Id.Name == "DiscoveryRecovered");
        Assert.Equal(LogLevel.Information, recovered.Level);
        Assert.DoesNotContain(records, r => r.Level >= LogLevel.Warning && r.Exception is not null);
        Assert.DoesNotContain(records, r => r.Message.Contains("DiscoveryException", StringComparison.Ordinal));
        Assert.True(records.Count(r => r.Level >= LogLevel.Warning) <= 2, string.Join("\n", records.Where(r => r.Level >= LogLevel.Warning).Select(r => r.Message)));
        await host.StopAsync(Token);
    }
}
