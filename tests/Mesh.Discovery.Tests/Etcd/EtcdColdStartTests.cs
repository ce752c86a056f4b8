using System.Diagnostics;
using dotnet_etcd;
using Mesh.Discovery.Tests.TestSupport;
using Mesh.Testing;
using Mesh.Tests.Shared;
using Microsoft.Extensions.Hosting;

namespace Mesh.Discovery.Tests.Etcd;

/// <summary>
/// Cold start with etcd discovery, as an app meets it: start the host and call at once. The first request waits for
/// the first list (no polling, bounded by DiscoveryTimeout and the caller's token); an outage that began before the
/// first list keeps requests waiting, and the set is used as soon as etcd answers.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class EtcdColdStartTests(EtcdServer etcd) : IClassFixture<EtcdServer>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static Dictionary<string, string?> Settings(string etcdUrl, string service, string? timeout = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Etcd:Endpoints"] = etcdUrl,
            ["Mesh:Discovery:Etcd:RetryBaseDelay"] = "00:00:00.100",
            ["Mesh:Discovery:Etcd:RetryMaxDelay"] = "00:00:00.500",
            [$"Mesh:Services:{service}:Discovery"] = "Etcd",
        };
        if (timeout is not null)
        {
            settings[$"Mesh:Services:{service}:DiscoveryTimeout"] = timeout;
        }

        return settings;
    }

    [Fact]
    public async Task The_first_request_right_after_start_waits_for_the_first_list_and_succeeds()
    {
        etcd.EnsureAvailable();
        await using var replica = await InProcessReplica.StartAsync("p1", cancellationToken: Token);
        using var writer = new EtcdClient(etcd.Url);
        await writer.PutAsync("/mesh/services/prices/p1", $$"""{"Address": "{{replica.Address.ToString().TrimEnd('/')}}"}""", cancellationToken: Token);
        using var host = AppHost.Build(Settings(etcd.Url, "prices"), null, "prices");

        await host.StartAsync(Token);
        using var response = await host.Client("prices").GetAsync("/", Token);

        response.EnsureSuccessStatusCode();
        Assert.Equal(1, replica.RequestCount);
        await host.StopAsync(Token);
        await writer.DeleteRangeAsync("/mesh/services/prices/", cancellationToken: Token);
    }

    [Fact]
    public async Task An_etcd_outage_before_the_first_list_keeps_requests_waiting_and_they_succeed_when_etcd_answers()
    {
        etcd.EnsureAvailable();
        await using var replica = await InProcessReplica.StartAsync("q1", cancellationToken: Token);
        await using var late = new EtcdServer();
        await late.InitializeAsync(); // a second etcd, stopped below before the app starts: down from the beginning
        using (var writer = new EtcdClient(late.Url))
        {
            await writer.PutAsync("/mesh/services/quotes/q1", $$"""{"Address": "{{replica.Address.ToString().TrimEnd('/')}}"}""", cancellationToken: Token);
        }

        await late.StopAsync();
        using var host = AppHost.Build(Settings(late.Url, "quotes", timeout: "00:00:20"), null, "quotes");
        await host.StartAsync(Token);

        var waited = Stopwatch.StartNew();
        var requests = Enumerable.Range(0, 3).Select(_ => host.Client("quotes").GetAsync("/", Token)).ToList();
        await Task.Delay(1500, Token);
        Assert.All(requests, r => Assert.False(r.IsCompleted)); // waiting, not failing instantly
        await late.StartAsync();

        foreach (var request in requests)
        {
            using var response = await request;
            response.EnsureSuccessStatusCode();
        }

        Assert.Equal(3, replica.RequestCount);
        TestContext.Current.SendDiagnosticMessage($"requests answered {waited.ElapsedMilliseconds} ms after they were sent (etcd started after 1500 ms)");
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task When_the_first_list_never_comes_the_request_fails_after_DiscoveryTimeout_naming_the_provider_and_its_problem()
    {
        etcd.EnsureAvailable();
        using var host = AppHost.Build(Settings("http://127.0.0.1:1", "ledger", timeout: "00:00:01.500"), null, "ledger");
        await host.StartAsync(Token);

        var waited = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<MeshNoEndpointsException>(() => host.Client("ledger").GetAsync("/", Token));

        Assert.InRange(waited.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(10));
        Assert.Contains("Etcd", error.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:1", error.Message, StringComparison.Ordinal);
        Assert.Contains("DiscoveryTimeout", error.Message, StringComparison.Ordinal);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_caller_that_gives_up_while_waiting_gets_its_cancellation_at_once()
    {
        etcd.EnsureAvailable();
        using var host = AppHost.Build(Settings("http://127.0.0.1:1", "audit", timeout: "00:00:30"), null, "audit");
        await host.StartAsync(Token);
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Token);
        caller.CancelAfter(TimeSpan.FromMilliseconds(300));

        var waited = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.Client("audit").GetAsync("/", caller.Token));

        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), $"cancellation took {waited.Elapsed}");
        await host.StopAsync(Token);
    }
}
