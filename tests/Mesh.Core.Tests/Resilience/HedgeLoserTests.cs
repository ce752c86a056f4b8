using System.Globalization;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Mesh.Tests.Configuration;

namespace Mesh.Tests.Resilience;

/// <summary>
/// The loser of a hedge over HTTP/1.1, with real Kestrel replicas and the standard hedging handler: the caller gets
/// the winner's answer at once, and the loser goes on until its own answer instead of being cancelled, so its
/// connection is not closed (one new connection per lost hedge otherwise) and its true latency is recorded.
/// </summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class HedgeLoserTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>A replica that counts the connections its requests arrived on.</summary>
    private sealed class CountingReplica : IAsyncDisposable
    {
        private readonly HashSet<string> _connections = new(StringComparer.Ordinal);
        private int _requests;

        private CountingReplica(InProcessReplica replica) => Replica = replica;

        public InProcessReplica Replica { get; }

        public int Connections
        {
            get
            {
                lock (_connections)
                {
                    return _connections.Count;
                }
            }
        }

        public int Requests => Volatile.Read(ref _requests);

        public static async Task<CountingReplica> StartAsync(string id)
        {
            CountingReplica? self = null;
            var replica = await InProcessReplica.StartAsync(id, new InProcessReplicaOptions
            {
                ConfigureApp = app => app.Use((context, next) =>
                {
                    lock (self!._connections)
                    {
                        self._connections.Add(context.Connection.Id);
                    }

                    Interlocked.Increment(ref self._requests);
                    return next(context);
                }),
            }, Token);
            self = new CountingReplica(replica);
            return self;
        }

        public ValueTask DisposeAsync() => Replica.DisposeAsync();
    }

    [Fact]
    public async Task A_lost_hedge_keeps_its_connection_and_reports_its_true_latency()
    {
        await using var fast = await CountingReplica.StartAsync("fast");
        await using var slow = await CountingReplica.StartAsync("slow");
        slow.Replica.Behavior.Latency = TimeSpan.FromMilliseconds(60);

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // Round robin: the cursor moves on at every pick, so each primary goes to the slow replica and loses to the
            // hedge sent to the fast one 10 ms later.
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:catalog:Endpoints:0:Address"] = fast.Replica.Address.ToString(),
            ["Mesh:Services:catalog:Endpoints:1:Address"] = slow.Replica.Address.ToString(),
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "0",
            ["Mesh:Services:catalog:Hedging:BudgetRatio"] = "10",
        });
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddMeshHandler()
            .AddStandardHedgingHandler()
            .Configure(o => o.Hedging.Delay = TimeSpan.FromMilliseconds(10));
        using var host = builder.Build();
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        const int Requests = 40;
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < Requests; i++)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            using var response = await client.GetAsync("/", Token);
            response.EnsureSuccessStatusCode();
            if (i >= 4)
            {
                slowest = started.Elapsed > slowest ? started.Elapsed : slowest; // the first ones pay for connections and JIT
            }

            Assert.Equal("fast", response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single());
        }

        // Each lost attempt finished on the slow replica (60 ms) instead of being cancelled with its connection; the
        // callers did not wait for them. Connections: a few, as lost attempts still running overlap the next ones (each
        // request takes ~10 ms, a loser 60 ms): 7 in a run here; without draining one per lost attempt (39 of 39).
        await UserApp.WaitUntilAsync(() => slow.Requests >= Requests - 1, TimeSpan.FromSeconds(5), "every lost attempt reached the slow replica");
        TestContext.Current.SendDiagnosticMessage(string.Create(CultureInfo.InvariantCulture,
            $"slow replica: {slow.Requests} attempts on {slow.Connections} connections; fast: {fast.Requests} on {fast.Connections}; slowest request {slowest.TotalMilliseconds:F1} ms"));
        Assert.InRange(slow.Connections, 1, 9);
        Assert.True(slowest < TimeSpan.FromMilliseconds(55), $"a request waited {slowest.TotalMilliseconds:F0} ms: for its losing attempt?");

        // The losers were recorded when they really ended: the slow replica's estimate is its 60 ms, not the ~10 ms
        // after which the hedging handler cancelled them.
        var monitor = host.Services.GetRequiredService<MeshMonitor>();
        await UserApp.WaitUntilAsync(() => monitor.GetService("catalog").Endpoints.Single(e => e.Endpoint.Address.Port == slow.Replica.Address.Port).InFlight == 0, TimeSpan.FromSeconds(5), "the lost attempts ended");
        var estimate = monitor.GetService("catalog").Endpoints.Single(e => e.Endpoint.Address.Port == slow.Replica.Address.Port).RttEstimate;
        Assert.True(estimate > TimeSpan.FromMilliseconds(40), $"the slow replica's estimate is {estimate}");
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_caller_that_gives_up_still_cancels_the_attempt_at_once()
    {
        await using var hung = await CountingReplica.StartAsync("hung");
        hung.Replica.Behavior.Hang = true;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:Endpoints:0:Address"] = hung.Replica.Address.ToString(),
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "0",
        });
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHedging();
        using var host = builder.Build();
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        var monitor = host.Services.GetRequiredService<MeshMonitor>();

        // No attempt answered, so nothing is drained: the caller's cancellation reaches the transport, and the attempt
        // is no longer in flight as soon as the call returns.
        for (var i = 0; i < 3; i++)
        {
            using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(Token);
            giveUp.CancelAfter(TimeSpan.FromMilliseconds(200));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("/", giveUp.Token));
            await UserApp.WaitUntilAsync(() => monitor.GetService("catalog").Endpoints.Single().InFlight == 0, TimeSpan.FromMilliseconds(500), "the cancelled attempt is no longer in flight");
        }

        await host.StopAsync(Token);
    }
}
