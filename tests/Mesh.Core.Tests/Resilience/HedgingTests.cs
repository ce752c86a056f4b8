using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Tests.Resilience;

/// <summary>
/// Hedging that knows endpoints, with real replicas and the standard hedging handler: every hedged attempt goes to an
/// endpoint no other attempt of the request uses or used, the delay comes from the service's own latency
/// (AddMeshHedging), and hedges are charged to a budget.
/// </summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed partial class HedgingTests
{
    private const string RequestIdHeader = "x-request-id";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Which replica saw which request id (every attempt of every request).</summary>
    private sealed class AttemptLog
    {
        private readonly ConcurrentDictionary<string, ConcurrentBag<string>> _byRequest = new(StringComparer.Ordinal);

        public IReadOnlyDictionary<string, ConcurrentBag<string>> ByRequest => _byRequest;

        public InProcessReplicaOptions Options(Action<InProcessReplicaOptions>? more = null, string? id = null)
        {
            var options = new InProcessReplicaOptions();
            options.ConfigureApp = app => app.Use((context, next) =>
            {
                var request = context.Request.Headers[RequestIdHeader].ToString();
                _byRequest.GetOrAdd(request, static _ => []).Add(context.Connection.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return next(context);
            });
            more?.Invoke(options);
            return options;
        }
    }

    /// <summary>Replicas that answer after a fixed latency, each attempt logged; disposed together.</summary>
    private sealed class SlowReplicas : List<InProcessReplica>, IAsyncDisposable
    {
        public static async Task<SlowReplicas> StartAsync(AttemptLog log, int count, TimeSpan latency)
        {
            var replicas = new SlowReplicas();
            for (var i = 0; i < count; i++)
            {
                var replica = await InProcessReplica.StartAsync($"slow-{i}", log.Options(), Token);
                replica.Behavior.Latency = latency;
                replicas.Add(replica);
            }

            return replicas;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var replica in this)
            {
                await replica.DisposeAsync();
            }
        }
    }

    private static IHost Start(IEnumerable<InProcessReplica> replicas, Dictionary<string, string?> extra, Action<IServiceCollection> client)
    {
        var settings = new Dictionary<string, string?>(extra);
        var i = 0;
        foreach (var replica in replicas)
        {
            settings[$"Mesh:Services:catalog:Endpoints:{i++}"] = replica.Address.ToString();
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMetrics();
        builder.Services.AddMeshClient();
        client(builder.Services);
        return builder.Build();
    }

    private static async Task<(int Ok, int Failed)> SendAsync(IHost host, int count, bool includeAll = false)
    {
        var http = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        var (ok, failed) = (0, 0);
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add(RequestIdHeader, $"request-{i}");
            try
            {
                using var response = await http.SendAsync(request, Token);
                if (response.IsSuccessStatusCode)
                {
                    ok++;
                }
                else
                {
                    failed++;
                }
            }
            catch (Exception ex) when (includeAll || ex is HttpRequestException or Polly.Timeout.TimeoutRejectedException or TaskCanceledException)
            {
                failed++;
            }
        }

        return (ok, failed);
    }

    [Fact]
    public async Task Every_hedged_attempt_goes_to_an_endpoint_no_other_attempt_of_the_request_uses()
    {
        var log = new AttemptLog();
        await using var replicas = await SlowReplicas.StartAsync(log, 3, TimeSpan.FromMilliseconds(300));
        using var host = Start(replicas, new()
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "Random", // on its own, Random sends two attempts of one request to the same replica 7 times in 9
            ["Mesh:Services:catalog:Hedging:BudgetRatio"] = "10",
        }, services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardHedgingHandler().Configure(o =>
            {
                o.Hedging.Delay = TimeSpan.FromMilliseconds(30);
                o.Hedging.MaxHedgedAttempts = 2;
            }).AddMeshHandler());
        using var hedges = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.hedges");
        await host.StartAsync(Token);

        var (ok, failed) = await SendAsync(host, 10);

        Assert.Equal((10, 0), (ok, failed));
        Assert.All(log.ByRequest, r => Assert.Equal(3, r.Value.Distinct().Count()));
        Assert.All(log.ByRequest, r => Assert.Equal(3, r.Value.Count));
        Assert.Equal(20, hedges.GetMeasurementSnapshot().Where(m => (string?)m.Tags["mesh.outcome"] == "sent").Sum(m => m.Value));
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task With_the_hedge_budget_spent_no_hedge_is_sent_and_the_refusal_is_counted()
    {
        var log = new AttemptLog();
        await using var replicas = await SlowReplicas.StartAsync(log, 3, TimeSpan.FromMilliseconds(150));
        using var host = Start(replicas, new()
        {
            ["Mesh:Services:catalog:Hedging:BudgetRatio"] = "0",
            ["Mesh:Services:catalog:Hedging:MinHedgesPerSecond"] = "0",
        }, services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardHedgingHandler().Configure(o => o.Hedging.Delay = TimeSpan.FromMilliseconds(20)).AddMeshHandler());
        using var hedges = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.hedges");
        await host.StartAsync(Token);

        var (ok, failed) = await SendAsync(host, 8);

        Assert.Equal((8, 0), (ok, failed));
        Assert.All(log.ByRequest, r => Assert.Single(r.Value)); // one attempt per request reached a replica
        var snapshot = hedges.GetMeasurementSnapshot();
        Assert.Equal(0, snapshot.Where(m => (string?)m.Tags["mesh.outcome"] == "sent").Sum(m => m.Value));
        Assert.True(snapshot.Where(m => (string?)m.Tags["mesh.outcome"] == "refused").Sum(m => m.Value) >= 8);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task Refused_hedges_do_not_open_the_standard_hedging_handlers_circuit_breaker()
    {
        // Found by the tail-network bench: with a fixed hedging delay under the replicas' latency, every request sends
        // a hedge; once the budget is spent each refused hedge failed at once with an HttpRequestException, the
        // standard hedging handler's per-endpoint circuit breaker counted it (10% over 100 attempts) and then
        // refused every request for 5 s. A refused hedge now waits for the attempt in flight instead.
        var log = new AttemptLog();
        await using var replicas = await SlowReplicas.StartAsync(log, 3, TimeSpan.FromMilliseconds(15));
        using var host = Start(replicas, new()
        {
            ["Mesh:Services:catalog:Hedging:BudgetRatio"] = "0",
            ["Mesh:Services:catalog:Hedging:MinHedgesPerSecond"] = "0",
        }, services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardHedgingHandler().Configure(o => o.Hedging.Delay = TimeSpan.FromMilliseconds(2)).AddMeshHandler());
        using var hedges = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.hedges");
        await host.StartAsync(Token);

        var (ok, failed) = await SendAsync(host, 150, includeAll: true);

        Assert.Equal((150, 0), (ok, failed));
        Assert.All(log.ByRequest, r => Assert.Single(r.Value)); // the refused hedges reached no replica
        Assert.True(hedges.GetMeasurementSnapshot().Where(m => (string?)m.Tags["mesh.outcome"] == "refused").Sum(m => m.Value) >= 100);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task Hedges_sent_after_failures_never_repeat_an_endpoint_while_others_are_available()
    {
        var log = new AttemptLog();
        await using var refusing = await InProcessReplica.StartAsync("refusing", log.Options(), Token);
        await using var failing = await InProcessReplica.StartAsync("failing", log.Options(), Token);
        await using var slow = await InProcessReplica.StartAsync("slow", log.Options(), Token);
        await using var fine = await InProcessReplica.StartAsync("fine", log.Options(), Token);
        await refusing.StopAsync();
        failing.Behavior.ErrorRate = 1.0;
        slow.Behavior.Latency = TimeSpan.FromMilliseconds(400);
        using var host = Start([refusing, failing, slow, fine], new()
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "Random",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "0", // keep every endpoint in play
            ["Mesh:Services:catalog:Hedging:BudgetRatio"] = "10",
            ["Mesh:Services:catalog:RetryBudget:RetryRatio"] = "-1",
        }, services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardHedgingHandler().Configure(o =>
            {
                o.Hedging.Delay = TimeSpan.FromMilliseconds(50);
                o.Hedging.MaxHedgedAttempts = 3;
            }).AddMeshHandler());
        await host.StartAsync(Token);

        var (ok, failed) = await SendAsync(host, 20);

        Assert.Equal((20, 0), (ok, failed));
        Assert.All(log.ByRequest, r => Assert.Equal(r.Value.Count, r.Value.Distinct().Count()));
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task AddMeshHedging_hedges_after_the_services_own_latency_instead_of_a_fixed_two_seconds()
    {
        await using var a = await InProcessReplica.StartAsync("a", cancellationToken: Token);
        await using var b = await InProcessReplica.StartAsync("b", cancellationToken: Token);
        await using var hung = await InProcessReplica.StartAsync("hung", cancellationToken: Token);
        hung.Behavior.Hang = true;
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin", // a third of the first attempts hang
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "0",
            ["Mesh:Services:catalog:Hedging:MaxDelay"] = "00:00:00.300", // used until 20 attempts were measured
            ["Mesh:Services:catalog:Hedging:BudgetRatio"] = "1",
        };

        // The standard hedging handler waits its fixed delay (2 s by default) before it hedges a hanging attempt.
        TimeSpan slowestStandard;
        using (var standard = Start([a, b, hung], settings, services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardHedgingHandler().AddMeshHandler()))
        {
            await standard.StartAsync(Token);
            slowestStandard = await SlowestAsync(standard, 6);
            await standard.StopAsync(Token);
        }

        // Mesh-aware hedging waits for the 95th percentile of the service's own attempts: a few milliseconds here.
        using var host = Start([a, b, hung], settings, services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddMeshHedging());
        await host.StartAsync(Token);
        await SlowestAsync(host, 30); // the first 20 attempts are measured; until then MaxDelay applies
        var slowestMesh = await SlowestAsync(host, 30);

        Assert.True(slowestStandard >= TimeSpan.FromSeconds(1.9), $"standard handler: slowest request {slowestStandard.TotalMilliseconds:0} ms");
        Assert.True(slowestMesh < TimeSpan.FromSeconds(1), $"mesh-aware hedging: slowest request {slowestMesh.TotalMilliseconds:0} ms");
        TestContext.Current.SendDiagnosticMessage($"slowest request: standard {slowestStandard.TotalMilliseconds:0} ms, mesh-aware {slowestMesh.TotalMilliseconds:0} ms");
        await host.StopAsync(Token);
    }

    private static async Task<TimeSpan> SlowestAsync(IHost host, int count)
    {
        var http = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < count; i++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            using var response = await http.GetAsync("/", Token);
            response.EnsureSuccessStatusCode();
            slowest = watch.Elapsed > slowest ? watch.Elapsed : slowest;
        }

        return slowest;
    }
}
