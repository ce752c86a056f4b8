using System.Diagnostics;
using Mesh.Testing;
using Mesh.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Tests.Health;

/// <summary>Real failures of real Kestrel replicas on loopback: stopped, hanging, unhealthy, all failing.</summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class FailoverIntegrationTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Runs traffic from <paramref name="workers"/> workers while <paramref name="during"/> happens and for
    /// <paramref name="tail"/> after it; the requests in flight at the end finish and count.</summary>
    private static async Task<TrafficReport> LoadAsync(MeshTestHost host, int workers, Func<Task> during, TimeSpan tail)
    {
        await using var traffic = host.StartTraffic(new TrafficOptions { Concurrency = workers, IsSuccess = static r => r.IsSuccessStatusCode });
        await Task.Delay(200, Token);
        await during();
        await Task.Delay(tail, Token);
        return await traffic.StopAsync();
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("PeakEwma")]
    public async Task A_replica_stopped_mid_load_fails_at_most_ConsecutiveFailures_requests_without_retries(string balancer)
    {
        await using var host = await MeshTestHost.StartAsync(3, new() { ["Mesh:Services:catalog:LoadBalancer"] = balancer });

        var report = await LoadAsync(host, workers: 1, during: async () =>
        {
            await host.Replicas[1].StopAsync();
        }, tail: TimeSpan.FromSeconds(1));

        Assert.InRange(report.Failed, 1, 5);
        Assert.All(report.Failures, f => Assert.IsType<HttpRequestException>(f.Exception));
        // The survivors carried the load (Peak-EWMA with one worker may favour just the fastest of them).
        Assert.True(report.CountOf("r0") + report.CountOf("r2") > 100, report.ToString());
    }

    [Fact]
    public async Task A_replica_stopped_mid_load_loses_no_request_behind_the_standard_resilience_handler()
    {
        await using var host = await MeshTestHost.StartAsync(3,
            configureClient: c => c.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1)));

        var report = await LoadAsync(host, workers: 4, during: () => host.Replicas[1].StopAsync(), tail: TimeSpan.FromSeconds(1));

        report.AssertNoFailures();
        Assert.True(report.CountOf("r0") + report.CountOf("r1") + report.CountOf("r2") > 200, report.ToString());
    }

    [Fact]
    public async Task A_hanging_replica_times_out_is_ejected_and_the_rest_of_the_traffic_is_unaffected()
    {
        await using var host = await MeshTestHost.StartAsync(3, new()
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:catalog:AttemptTimeout"] = "00:00:01.500",
        });

        var report = await LoadAsync(host, workers: 4, during: () =>
        {
            host.Replicas[2].Behavior.Hang = true;
            return Task.CompletedTask;
        }, tail: TimeSpan.FromSeconds(4));

        var snapshot = host.Monitor.GetService("catalog");
        Assert.Equal(MeshEndpointHealth.Ejected, snapshot.Endpoints[2].Health);
        Assert.Contains("consecutive failures (last: no response within 00:00:01.5000000)", snapshot.Endpoints[2].Reason, StringComparison.Ordinal);
        // Only the first timeouts fail: one ejection's worth plus the requests already in flight to it — at most one per
        // worker (a worker whose pick races with the fifth failure being counted may still send to it; seen once in CI:
        // 4 + 3 + 2 timeouts).
        Assert.True(report.Failed is >= 5 and <= 5 + 4, string.Join("\n", report.Failures));
        Assert.All(report.Failures, f => Assert.Equal(host.Replicas[2].Address.ToString().TrimEnd('/'), Assert.IsType<MeshAttemptTimeoutException>(f.Exception).Endpoint));
        Assert.True(report.CountOf("r0") > 100 && report.CountOf("r1") > 100, report.ToString());
    }

    [Fact]
    public async Task An_unhealthy_replica_gets_no_traffic_within_two_check_intervals_and_returns_with_a_slow_start()
    {
        var interval = TimeSpan.FromMilliseconds(300);
        await using var host = await MeshTestHost.StartAsync(3, new()
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:catalog:HealthCheck:Path"] = "/healthz",
            ["Mesh:Services:catalog:HealthCheck:Interval"] = "00:00:00.300",
            ["Mesh:Services:catalog:HealthCheck:Timeout"] = "00:00:00.200",
            ["Mesh:Services:catalog:SlowStart:Window"] = "00:00:02",
        });
        var sick = host.Replicas[0];
        await Task.Delay(interval, Token); // first round of checks

        sick.Behavior.Healthy = false;
        await Task.Delay(interval * 2 + TimeSpan.FromMilliseconds(100), Token);
        var before = sick.RequestCount;
        var (whileSick, failures) = await host.SendAsync(90);
        Assert.Empty(failures);
        Assert.Equal(before, sick.RequestCount);
        Assert.Equal(MeshEndpointHealth.Unhealthy, host.Monitor.GetService("catalog").Endpoints[0].Health);

        sick.Behavior.Healthy = true;
        var deadline = Stopwatch.StartNew();
        while (host.Monitor.GetService("catalog").Endpoints[0].Health == MeshEndpointHealth.Unhealthy && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20, Token);
        }

        var shares = new List<double>();
        for (var slice = 0; slice < 10; slice++)
        {
            var (counts, _) = await host.SendAsync(150);
            shares.Add(counts.GetValueOrDefault("r0") / 150.0);
            await Task.Delay(250, Token);
        }

        var trace = string.Join(" ", shares.Select(s => s.ToString("P0", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(shares[0] < 0.2, $"share right after the return: {shares[0]:P0} (fair share 33%); all slices: {trace}");
        Assert.True(shares[^1] > 0.29, $"share after the slow-start window: {shares[^1]:P0}; all slices: {trace}");
        Assert.True(shares[^1] > shares[0]);
    }

    [Fact]
    public async Task When_every_replica_fails_its_checks_panic_mode_keeps_balancing_over_all_of_them()
    {
        await using var host = await MeshTestHost.StartAsync(3, new()
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:catalog:HealthCheck:Path"] = "/healthz",
            ["Mesh:Services:catalog:HealthCheck:Interval"] = "00:00:00.200",
            ["Mesh:Services:catalog:HealthCheck:Timeout"] = "00:00:00.150",
            ["Mesh:Services:catalog:HealthCheck:UnhealthyThreshold"] = "1",
        }, configureServices: s => s.AddHealthChecks().AddMeshHealthCheck());
        foreach (var replica in host.Replicas)
        {
            replica.Behavior.Healthy = false;
        }

        await Task.Delay(600, Token);
        var (perReplica, failures) = await host.SendAsync(90);

        var snapshot = host.Monitor.GetService("catalog");
        Assert.True(snapshot.PanicMode);
        Assert.All(snapshot.Endpoints, e => Assert.Equal(MeshEndpointHealth.Unhealthy, e.Health));
        Assert.Empty(failures);
        Assert.All(perReplica.Values, n => Assert.Equal(30, n));
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Token);
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains("catalog: no available endpoint of 3", report.Entries["mesh"].Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_endpoint_that_never_accepts_connections_is_ejected_after_connect_timeouts()
    {
        // A listener whose accept queue is full: SYNs are dropped, connects hang until the connect timeout.
        using var blackhole = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        blackhole.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        blackhole.Listen(0);
        var port = ((System.Net.IPEndPoint)blackhole.LocalEndPoint!).Port;
        var fillers = new List<System.Net.Sockets.Socket>();
        for (var i = 0; i < 4; i++)
        {
            var filler = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { Blocking = false };
            try
            {
                filler.Connect(System.Net.IPAddress.Loopback, port);
            }
            catch (System.Net.Sockets.SocketException)
            {
            }

            fillers.Add(filler);
        }

        await using var host = await MeshTestHost.StartAsync(2, new()
        {
            ["Mesh:ConnectTimeout"] = "00:00:00.200",
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:catalog:Endpoints:2"] = $"http://127.0.0.1:{port}",
        });

        var (perReplica, failures) = await host.SendAsync(60);

        Assert.True(failures.Count == 5, $"{failures.Count} failures (expected the 5 that eject the endpoint):\n{string.Join("\n", failures)}");
        Assert.All(failures, f => Assert.Contains("within the connect timeout (Mesh:ConnectTimeout)", f, StringComparison.Ordinal));
        Assert.Equal(MeshEndpointHealth.Ejected, host.Monitor.GetService("catalog").Endpoints[2].Health);
        Assert.Equal(55, perReplica.Values.Sum());
        fillers.ForEach(f => f.Dispose());
    }

    [Fact]
    public async Task The_mesh_health_check_is_degraded_while_an_endpoint_is_ejected()
    {
        await using var host = await MeshTestHost.StartAsync(3, new() { ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin" },
            configureServices: s => s.AddHealthChecks().AddMeshHealthCheck());
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(Token)).Status);

        await host.Replicas[0].StopAsync();
        await host.SendAsync(30);
        var report = await health.CheckHealthAsync(Token);

        Assert.Equal(HealthStatus.Degraded, report.Status);
        Assert.Contains("catalog: 2 of 3 endpoints available", report.Entries["mesh"].Description, StringComparison.Ordinal);
        Assert.Contains("Ejected (5 consecutive failures", (string)report.Entries["mesh"].Data["catalog"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_grpc_replica_reporting_NOT_SERVING_on_grpc_health_v1_is_marked_unhealthy()
    {
        var healths = new List<Grpc.HealthCheck.HealthServiceImpl>();
        var replicas = new List<InProcessReplica>();
        for (var i = 0; i < 2; i++)
        {
            var health = new Grpc.HealthCheck.HealthServiceImpl();
            health.SetStatus("", Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving);
            healths.Add(health);
            replicas.Add(await InProcessReplica.StartAsync($"g{i}", new InProcessReplicaOptions
            {
                Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2,
                ConfigureServices = services => services.AddGrpc().Services.AddSingleton(health),
                ConfigureApp = app => Microsoft.AspNetCore.Builder.GrpcEndpointRouteBuilderExtensions.MapGrpcService<Grpc.HealthCheck.HealthServiceImpl>(app),
            }, Token));
        }

        try
        {
            var services = new ServiceCollection();
            services.AddMeshClient(o =>
            {
                var catalog = new MeshServiceOptions();
                catalog.HealthCheck.Protocol = HealthCheckProtocol.Grpc;
                catalog.HealthCheck.Interval = TimeSpan.FromMilliseconds(300);
                catalog.HealthCheck.Timeout = TimeSpan.FromMilliseconds(250);
                catalog.HealthCheck.UnhealthyThreshold = 2; // a cold first call may be slow
                foreach (var r in replicas)
                {
                    catalog.Endpoints.Add(new MeshEndpointOptions { Address = r.Address.ToString() });
                }

                o.Services["catalog"] = catalog;
            });
            await using var provider = services.BuildServiceProvider();
            var monitor = provider.GetRequiredService<MeshMonitor>();

            healths[1].SetStatus("", Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing);
            var deadline = Stopwatch.StartNew();
            while (monitor.GetService("catalog").Endpoints[1].Health != MeshEndpointHealth.Unhealthy && deadline.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(20, Token);
            }

            var snapshot = monitor.GetService("catalog");
            Assert.True(snapshot.Endpoints[0].Health == MeshEndpointHealth.Healthy, snapshot.Endpoints[0].Reason);
            Assert.Equal(MeshEndpointHealth.Unhealthy, snapshot.Endpoints[1].Health);
            Assert.Contains("NOT_SERVING", snapshot.Endpoints[1].Reason, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }
        }
    }
}
