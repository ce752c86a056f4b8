using System.Diagnostics.Metrics;
using Mesh.Testing;
using Mesh.Tests.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Mesh.Tests.Resilience;

/// <summary>
/// The mesh's own hedging (<c>Hedging:Enabled</c>), with real replicas and no hedging handler: a request still waiting
/// after the hedging delay gets one copy sent to another endpoint, charged to the hedge budget; the first usable answer
/// wins; retries of an outer resilience handler never repeat an endpoint a hedge used.
/// </summary>
public sealed partial class HedgingTests
{
    private static Dictionary<string, string?> MeshHedgingSettings(TimeSpan delay, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:Hedging:Enabled"] = "true",
            ["Mesh:Services:catalog:Hedging:MinDelay"] = delay.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            ["Mesh:Services:catalog:Hedging:MaxDelay"] = delay.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            ["Mesh:Services:catalog:Hedging:BudgetRatio"] = "10",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "0", // keep every endpoint in play
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>A fast replica and a second one (<paramref name="configureOther"/>: slow, hung) behind a client with the
    /// mesh's own hedging after 10 ms; round robin puts every other first attempt on the second replica.</summary>
    private sealed class FastAndOther : IAsyncDisposable
    {
        private FastAndOther(InProcessReplica fast, InProcessReplica other, IHost host)
        {
            Fast = fast;
            Other = other;
            Host = host;
        }

        public InProcessReplica Fast { get; }

        public InProcessReplica Other { get; }

        public IHost Host { get; }

        public HttpClient Client => Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        /// <summary>What the mesh knows of the second replica now.</summary>
        public MeshEndpointSnapshot OtherEndpoint =>
            Host.Services.GetRequiredService<MeshMonitor>().GetService("catalog").Endpoints.Single(e => e.Endpoint.Address.Port == Other.Address.Port);

        public static async Task<FastAndOther> StartAsync(string otherName, Action<ReplicaBehavior> configureOther)
        {
            var log = new AttemptLog();
            var fast = await InProcessReplica.StartAsync("fast", log.Options(), Token);
            var other = await InProcessReplica.StartAsync(otherName, log.Options(), Token);
            configureOther(other.Behavior);
            var host = Start([fast, other], MeshHedgingSettings(TimeSpan.FromMilliseconds(10), new()
            {
                ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            }), services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler());
            await host.StartAsync(Token);
            return new FastAndOther(fast, other, host);
        }

        public async ValueTask DisposeAsync()
        {
            await Host.StopAsync(Token);
            Host.Dispose();
            await Fast.DisposeAsync();
            await Other.DisposeAsync();
        }
    }

    private static long Hedges(MetricCollector<long> hedges, string outcome) =>
        hedges.GetMeasurementSnapshot().Where(m => (string?)m.Tags["mesh.outcome"] == outcome).Sum(m => m.Value);

    [Fact]
    public async Task With_Hedging_Enabled_the_mesh_hedges_a_slow_request_to_another_endpoint_without_a_hedging_handler()
    {
        var log = new AttemptLog();
        await using var replicas = await SlowReplicas.StartAsync(log, 3, TimeSpan.FromMilliseconds(200));
        using var host = Start(replicas, MeshHedgingSettings(TimeSpan.FromMilliseconds(20), new()
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "Random", // on its own, Random sends both attempts to one replica a third of the time
        }), services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler());
        using var hedges = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.hedges");
        await host.StartAsync(Token);

        var (ok, failed) = await SendAsync(host, 10);

        // Every request went to two replicas: the copy kept the request's headers and went where the first attempt was not.
        Assert.Equal((10, 0), (ok, failed));
        Assert.Equal(10, log.ByRequest.Count);
        Assert.All(log.ByRequest, r => Assert.Equal(2, r.Value.Count));
        Assert.All(log.ByRequest, r => Assert.Equal(2, r.Value.Distinct().Count()));
        Assert.Equal(10, Hedges(hedges, "sent"));
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task The_mesh_hedge_answers_while_the_slow_first_attempt_goes_on_and_keeps_its_connection()
    {
        // Round robin: every other first attempt goes to the slow replica and loses to the hedge sent 10 ms later.
        await using var replicas = await FastAndOther.StartAsync("slow", b => b.Latency = TimeSpan.FromMilliseconds(300));
        var (fast, slow, client) = (replicas.Fast, replicas.Other, replicas.Client);
        MeshEndpointSnapshot Slow() => replicas.OtherEndpoint;

        const int Requests = 20;
        var answeredBySlow = 0;
        var loserStillRunning = 0;
        for (var i = 0; i < Requests; i++)
        {
            using var response = await client.GetAsync("/", Token);
            response.EnsureSuccessStatusCode();
            if (response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single() == "slow")
            {
                answeredBySlow++;
            }
            else if (Slow().InFlight > 0)
            {
                // The caller has the fast answer while the first attempt still runs on the slow replica.
                loserStillRunning++;
            }

            Assert.Equal(fast.Address.Port, response.GetMeshEndpoint()?.Address.Port);
            await UserApp.WaitUntilAsync(() => Slow().InFlight == 0, TimeSpan.FromSeconds(5), "the lost attempt ended");
        }

        // No request waited for the slow replica; about half had a loser there (round robin), which was let finish: its
        // answer was read and its connection reused (one connection per lost attempt if it had been cancelled).
        TestContext.Current.SendDiagnosticMessage($"{loserStillRunning} of {Requests} answered while the loser ran; slow replica: {slow.Behavior.Latency}");
        Assert.Equal(0, answeredBySlow);
        Assert.InRange(loserStillRunning, 5, Requests);
        Assert.True(Slow().RttEstimate > TimeSpan.FromMilliseconds(200), $"the slow replica's estimate is {Slow().RttEstimate}: the losers were recorded when they really ended");
    }

    [Fact]
    public async Task When_the_mesh_hedge_answers_the_caller_gets_its_own_request_back_naming_the_endpoint_that_answered()
    {
        await using var replicas = await FastAndOther.StartAsync("slow", b => b.Latency = TimeSpan.FromMilliseconds(300));
        var (fast, client) = (replicas.Fast, replicas.Client);
        var tag = new HttpRequestOptionsKey<string>("app.tag");

        for (var i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/items?page=1");
            request.Options.Set(tag, $"call-{i}");
            using var response = await client.SendAsync(request, Token);

            // Half of these were answered by the copy (round robin puts every other first attempt on the slow replica):
            // the response still carries the caller's own request, with its options, naming the fast endpoint.
            Assert.Equal("fast", response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single());
            Assert.Same(request, response.RequestMessage);
            Assert.True(request.Options.TryGetValue(tag, out var value) && value == $"call-{i}");
            Assert.Equal(fast.Address.Port, response.GetMeshEndpoint()?.Address.Port);
            Assert.True(request.Options.TryGetValue(MeshRequestOptions.Endpoint, out var endpoint), "the request's options name the endpoint that answered");
            Assert.Equal(fast.Address.Port, endpoint.Address.Port);
            Assert.Equal("http://catalog/items?page=1", request.RequestUri?.ToString());
        }
    }

    [Fact]
    public async Task A_hung_first_attempt_that_lost_is_cancelled_a_second_later_and_leaves_nothing_in_flight()
    {
        await using var replicas = await FastAndOther.StartAsync("hung", b => b.Hang = true);
        var client = replicas.Client;
        int HungInFlight() => replicas.OtherEndpoint.InFlight;

        var lettingGo = 0;
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.GetAsync("/", Token);
            Assert.Equal("fast", response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single());
            lettingGo = Math.Max(lettingGo, HungInFlight());
        }

        // The attempts on the hung replica lost to their copies and were let go, not cancelled at once; a second
        // later each was cancelled (DrainableAttempt.Limit): nothing stays in flight on a replica that never answers.
        Assert.True(lettingGo > 0, "an attempt on the hung replica was still running when the caller had its answer");
        await UserApp.WaitUntilAsync(() => HungInFlight() == 0, TimeSpan.FromSeconds(5), "the let-go attempts on the hung replica ended");
    }

    [Fact]
    public async Task With_the_hedge_budget_spent_the_mesh_sends_no_hedge_and_counts_the_refusal()
    {
        var log = new AttemptLog();
        await using var replicas = await SlowReplicas.StartAsync(log, 3, TimeSpan.FromMilliseconds(100));
        using var host = Start(replicas, MeshHedgingSettings(TimeSpan.FromMilliseconds(10), new()
        {
            ["Mesh:Services:catalog:Hedging:BudgetRatio"] = "0",
            ["Mesh:Services:catalog:Hedging:MinHedgesPerSecond"] = "0",
        }), services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler());
        using var hedges = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.hedges");
        await host.StartAsync(Token);

        var (ok, failed) = await SendAsync(host, 8);

        Assert.Equal((8, 0), (ok, failed));
        Assert.All(log.ByRequest, r => Assert.Single(r.Value));
        Assert.Equal(0, Hedges(hedges, "sent"));
        Assert.True(Hedges(hedges, "refused") >= 8);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task The_mesh_does_not_hedge_a_request_with_content_nor_the_requests_of_a_client_that_hedges_itself()
    {
        var log = new AttemptLog();
        await using var replicas = await SlowReplicas.StartAsync(log, 3, TimeSpan.FromMilliseconds(100));
        using var host = Start(replicas, MeshHedgingSettings(TimeSpan.FromMilliseconds(10)), services =>
        {
            services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
            services.AddHttpClient("hedging", c => c.BaseAddress = new Uri("http://catalog"))
                .AddStandardHedgingHandler().Configure(o => o.Hedging.Delay = TimeSpan.FromMilliseconds(10)).AddMeshHandler();
        });
        await host.StartAsync(Token);
        var factory = host.Services.GetRequiredService<IHttpClientFactory>();

        for (var i = 0; i < 4; i++)
        {
            using var post = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent("order") };
            post.Headers.Add(RequestIdHeader, $"post-{i}");
            using var posted = await factory.CreateClient("catalog").SendAsync(post, Token);
            posted.EnsureSuccessStatusCode();

            using var get = new HttpRequestMessage(HttpMethod.Get, "/");
            get.Headers.Add(RequestIdHeader, $"hedging-client-{i}");
            using var got = await factory.CreateClient("hedging").SendAsync(get, Token);
            got.EnsureSuccessStatusCode();
        }

        // A POST goes once; the hedging handler's client sends its own two attempts, neither of them hedged again.
        Assert.All(log.ByRequest.Where(r => r.Key.StartsWith("post-", StringComparison.Ordinal)), r => Assert.Single(r.Value));
        Assert.All(log.ByRequest.Where(r => r.Key.StartsWith("hedging-client-", StringComparison.Ordinal)), r => Assert.Equal(2, r.Value.Count));
        Assert.Equal(8, log.ByRequest.Count);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task Retries_of_an_outer_resilience_handler_and_the_mesh_hedges_never_repeat_an_endpoint_while_others_are_available()
    {
        var log = new AttemptLog();
        var replicas = new SlowReplicas();
        await using var disposeAll = replicas;
        for (var i = 0; i < 5; i++)
        {
            var replica = await InProcessReplica.StartAsync($"r{i}", log.Options(), Token);
            replica.Behavior.Latency = TimeSpan.FromMilliseconds(60);
            replica.Behavior.ErrorRate = i < 4 ? 1.0 : 0.0; // four fail after 60 ms, one answers after 60 ms
            replicas.Add(replica);
        }

        using var host = Start(replicas, MeshHedgingSettings(TimeSpan.FromMilliseconds(10), new()
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "Random",
            ["Mesh:Services:catalog:RetryBudget:RetryRatio"] = "-1",
        }), services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardResilienceHandler(o =>
            {
                o.Retry.Delay = TimeSpan.FromMilliseconds(5);
                o.Retry.BackoffType = DelayBackoffType.Constant;
                o.Retry.UseJitter = false;
                o.Retry.MaxRetryAttempts = 4;
            }).AddMeshHandler());
        using var hedges = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.hedges");
        await host.StartAsync(Token);

        var (ok, failed) = await SendAsync(host, 12);

        // Each retry is hedged too; every attempt of a request — first, hedges, retries and their hedges — went to a
        // replica no other attempt of it used, so each request reached the one answering replica within its five attempts.
        Assert.Equal((12, 0), (ok, failed));
        Assert.All(log.ByRequest, r => Assert.Equal(r.Value.Count, r.Value.Distinct().Count()));
        Assert.Contains(log.ByRequest, r => r.Value.Count >= 3);
        Assert.True(Hedges(hedges, "sent") >= 12, $"{Hedges(hedges, "sent")} hedges sent");
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_caller_that_gives_up_cancels_both_attempts_of_a_mesh_hedged_request_at_once()
    {
        var log = new AttemptLog();
        await using var replicas = await SlowReplicas.StartAsync(log, 2, TimeSpan.Zero);
        foreach (var replica in replicas)
        {
            replica.Behavior.Hang = true;
        }

        using var host = Start(replicas, MeshHedgingSettings(TimeSpan.FromMilliseconds(10)),
            services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler());
        await host.StartAsync(Token);
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        var monitor = host.Services.GetRequiredService<MeshMonitor>();

        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var call = client.GetAsync("/", giveUp.Token);
        await UserApp.WaitUntilAsync(() => monitor.GetService("catalog").Endpoints.Sum(e => e.InFlight) == 2, TimeSpan.FromSeconds(5), "the request and its hedge are in flight");
        await giveUp.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await UserApp.WaitUntilAsync(() => monitor.GetService("catalog").Endpoints.Sum(e => e.InFlight) == 0, TimeSpan.FromSeconds(0.9), "both attempts ended (not drained for a second)");
        await host.StopAsync(Token);
    }
}
