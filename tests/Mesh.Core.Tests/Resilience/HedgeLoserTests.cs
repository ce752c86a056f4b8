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
        var slowLatency = TimeSpan.FromMilliseconds(300);
        await using var fast = await CountingReplica.StartAsync("fast");
        await using var slow = await CountingReplica.StartAsync("slow");
        slow.Replica.Behavior.Latency = slowLatency;

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
        var monitor = host.Services.GetRequiredService<MeshMonitor>();
        MeshEndpointSnapshot Slow() => monitor.GetService("catalog").Endpoints.Single(e => e.Endpoint.Address.Port == slow.Replica.Address.Port);

        // One request at a time, and the next one only once the slow replica has nothing in flight: a lost attempt that
        // is drained ends with its answer read, and its connection serves the next one (one connection in all); a lost
        // attempt that is cancelled closes its connection (one connection per lost attempt: 19 of 19 without draining).
        const int Requests = 20;
        var answeredByFast = 0;
        var loserStillRunning = 0;
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < Requests; i++)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            using var response = await client.GetAsync("/", Token);
            response.EnsureSuccessStatusCode();
            if (response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single() == "fast")
            {
                answeredByFast++;
                slowest = started.Elapsed > slowest ? started.Elapsed : slowest;

                // The caller has its answer while the losing attempt still runs on the slow replica (300 ms): it did not
                // wait for it. (Not so for the first request, whose loser is cancelled: this client says it hedges only
                // with its first hedge, as AddMeshHandler comes before the hedging handler; nor for a request whose first
                // attempt went to the fast one and answered within the hedging delay, which has no loser.)
                if (Slow().InFlight > 0)
                {
                    loserStillRunning++;
                }
            }

            await UserApp.WaitUntilAsync(() => Slow().InFlight == 0, TimeSpan.FromSeconds(5), "the lost attempt ended");
        }

        TestContext.Current.SendDiagnosticMessage(string.Create(CultureInfo.InvariantCulture,
            $"slow replica: {slow.Requests} attempts on {slow.Connections} connections; fast: {fast.Requests} on {fast.Connections}; {answeredByFast} answered by the fast one, {loserStillRunning} of them while the loser ran; slowest {slowest.TotalMilliseconds:F0} ms"));

        // On a loaded host a hedge may now and then come too late to win; almost every request is won by it.
        Assert.InRange(answeredByFast, Requests - 4, Requests);
        Assert.InRange(loserStillRunning, answeredByFast - 4, answeredByFast);
        Assert.InRange(slow.Requests, Requests - 5, Requests);
        Assert.InRange(slow.Connections, 1, 3);

        // The losers were recorded when they really ended: the slow replica's estimate is its 300 ms, not the ~10 ms
        // after which the hedging handler cancelled them.
        var estimate = Slow().RttEstimate;
        Assert.True(estimate > TimeSpan.FromMilliseconds(200), $"the slow replica's estimate is {estimate}");
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task Only_the_clients_that_hedge_run_their_attempts_drainable_not_the_other_clients_of_the_service()
    {
        await using var replica = await CountingReplica.StartAsync("r0");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:Endpoints:0:Address"] = replica.Replica.Address.ToString(),
        });
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("hedged", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHedging();
        builder.Services.AddHttpClient("standard-hedged", c => c.BaseAddress = new Uri("http://catalog")).AddStandardHedgingHandler().AddMeshHandler();
        builder.Services.AddHttpClient("resilient", c => c.BaseAddress = new Uri("http://catalog")).AddStandardResilienceHandler().AddMeshHandler();
        using var host = builder.Build();
        await host.StartAsync(Token);
        var factory = host.Services.GetRequiredService<IHttpClientFactory>();

        async Task<bool> ClientHedges(string client)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            using var response = await factory.CreateClient(client).SendAsync(request, Token);
            response.EnsureSuccessStatusCode();
            Assert.True(request.Options.TryGetValue(Mesh.Resilience.Internal.RequestScope.Key, out var scope));
            return scope.ClientHedges;
        }

        // The hedging clients say so when registered (their first requests' attempts are drainable already); the client
        // with retries only does not pay for draining, although the service it calls is hedged by the others.
        Assert.True(await ClientHedges("hedged"));
        Assert.True(await ClientHedges("standard-hedged"));
        Assert.False(await ClientHedges("resilient"));
        Assert.True(await ClientHedges("hedged"));
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
