using System.Text.Json;
using Mesh.Discovery;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Diagnostics;

/// <summary>What the document says about traffic and history matches what was sent: counts, errors, latency, shares,
/// discovery failures; and two apps in one process do not see each other's traffic.</summary>
public sealed class DiagnosticsTrafficTests
{
    [Fact]
    public async Task Requests_errors_latency_and_shares_of_the_last_minute_match_what_was_sent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var good = await InProcessReplica.StartAsync("good", cancellationToken: ct);
        await using var failing = await InProcessReplica.StartAsync("failing", cancellationToken: ct);
        good.Behavior.Latency = TimeSpan.FromMilliseconds(20);
        failing.Behavior.ErrorRate = 1;
        await using var app = await DiagnosticsApp.StartAsync(builder =>
        {
            builder.Services.AddMeshClient();
            builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        }, settings: new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "0", // keep the failing replica in rotation
            ["Mesh:Services:catalog:Endpoints:0:Address"] = good.Address.ToString(),
            ["Mesh:Services:catalog:Endpoints:1:Address"] = failing.Address.ToString(),
        });
        var client = app.MeshClient();

        for (var i = 0; i < 40; i++)
        {
            using var _ = await client.GetAsync("/", ct);
        }

        var document = await app.GetDocumentAsync();
        var traffic = document.Service("catalog").GetProperty("traffic");
        Assert.Equal(40, traffic.GetProperty("requests").GetInt64());
        Assert.Equal(20, traffic.GetProperty("errors").GetInt64());
        Assert.Equal(0.5, traffic.GetProperty("errorRate").GetDouble());
        Assert.Equal(40, traffic.GetProperty("perSecond").EnumerateArray().Sum(c => c.GetInt32()));
        Assert.Equal(20, traffic.GetProperty("errorsPerSecond").EnumerateArray().Sum(c => c.GetInt32()));
        // Half of the attempts took at least the 20 ms the good replica waits (the buckets are within 6%).
        Assert.InRange(traffic.GetProperty("p99Ms").GetDouble(), 18.5, 10_000);
        Assert.InRange(traffic.GetProperty("p50Ms").GetDouble(), 0, traffic.GetProperty("p99Ms").GetDouble());

        var goodTraffic = document.Service("catalog").Endpoint(good.Address).GetProperty("traffic");
        var failingEndpoint = document.Service("catalog").Endpoint(failing.Address);
        Assert.Equal(20, goodTraffic.GetProperty("requests").GetInt64());
        Assert.Equal(0, goodTraffic.GetProperty("errors").GetInt64());
        Assert.Equal(0.5, goodTraffic.GetProperty("share").GetDouble());
        Assert.Equal(20, failingEndpoint.GetProperty("traffic").GetProperty("errors").GetInt64());
        Assert.Equal(0.5, failingEndpoint.GetProperty("traffic").GetProperty("share").GetDouble());
        Assert.Equal(20, failingEndpoint.GetProperty("failures").GetInt64());
        Assert.Equal(JsonValueKind.Number, failingEndpoint.GetProperty("latencyEstimateMs").ValueKind);
    }

    [Fact]
    public async Task Two_apps_in_one_process_each_show_only_their_own_traffic()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: ct);
        var settings = new Dictionary<string, string?> { ["Mesh:Services:catalog:Endpoints:0:Address"] = replica.Address.ToString() };
        void Configure(Microsoft.AspNetCore.Builder.WebApplicationBuilder builder)
        {
            builder.Services.AddMeshClient();
            builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        }

        await using var busy = await DiagnosticsApp.StartAsync(Configure, settings: settings);
        await using var idle = await DiagnosticsApp.StartAsync(Configure, settings: settings);
        var client = busy.MeshClient();
        for (var i = 0; i < 10; i++)
        {
            (await client.GetAsync("/", ct)).EnsureSuccessStatusCode();
        }

        Assert.Equal(10, (await busy.GetDocumentAsync()).Service("catalog").GetProperty("traffic").GetProperty("requests").GetInt64());
        Assert.Equal(0, (await idle.GetDocumentAsync()).Service("catalog").GetProperty("traffic").GetProperty("requests").GetInt64());
    }

    [Fact]
    public async Task A_failing_discovery_source_shows_its_problem_and_the_timeline_its_failure_and_recovery()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: ct);
        var registry = new ControlledDiscoveryProvider();
        await using var app = await DiagnosticsApp.StartAsync(builder =>
        {
            builder.Services.AddSingleton<IMeshDiscoveryProvider>(registry);
            builder.Services.AddMeshClient();
        }, settings: new Dictionary<string, string?> { ["Mesh:Services:catalog:Discovery"] = ControlledDiscoveryProvider.ProviderName });
        var endpoints = new[] { new MeshEndpoint(replica.Address) };
        registry.Sink!.Publish(endpoints);

        registry.Sink.ReportFailure(new InvalidOperationException("registry unreachable"));
        var failed = await app.WaitForDocumentAsync(d => d.Events("DiscoveryFailed").Any(), "the discovery failure");
        var source = Assert.Single(failed.Service("catalog").GetProperty("discovery").EnumerateArray());
        Assert.Equal(ControlledDiscoveryProvider.ProviderName, source.GetProperty("source").GetString());
        Assert.Equal(1, source.GetProperty("endpointCount").GetInt32());
        Assert.Equal("registry unreachable", source.GetProperty("problem").GetString());
        Assert.Equal(1, source.GetProperty("failuresInARow").GetInt32());
        Assert.Contains("registry unreachable", failed.Service("catalog").GetProperty("discoveryProblem").GetString(), StringComparison.Ordinal);
        var failure = Assert.Single(failed.Events("DiscoveryFailed"));
        Assert.Equal(ControlledDiscoveryProvider.ProviderName, failure.GetProperty("source").GetString());
        Assert.Equal("registry unreachable", failure.GetProperty("reason").GetString());

        registry.Sink.Publish(endpoints);
        var recovered = await app.WaitForDocumentAsync(d => d.Events("DiscoveryRecovered").Any(), "the discovery recovery");
        Assert.Equal(JsonValueKind.Null, recovered.Service("catalog").GetProperty("discovery")[0].GetProperty("problem").ValueKind);
        Assert.Equal(JsonValueKind.Null, recovered.Service("catalog").GetProperty("discoveryProblem").ValueKind);
    }

    /// <summary>A discovery provider the test publishes through, as an app's own provider would.</summary>
    private sealed class ControlledDiscoveryProvider : IMeshDiscoveryProvider
    {
        public const string ProviderName = "Controlled";

        public string Name => ProviderName;

        public IMeshEndpointSink? Sink { get; private set; }

        public IAsyncDisposable Watch(MeshDiscoveryContext context)
        {
            Sink = context;
            return new Stop();
        }

        private sealed class Stop : IAsyncDisposable
        {
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
