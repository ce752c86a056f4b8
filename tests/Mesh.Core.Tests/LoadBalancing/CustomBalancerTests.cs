using System.Collections.Concurrent;
using Mesh.Endpoints.Internal;
using Mesh.LoadBalancing.Internal;
using Mesh.Services.Internal;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Mesh.Tests.LoadBalancing;

/// <summary>
/// Custom balancers (<see cref="MeshLoadBalancer"/>, <c>AddMeshLoadBalancer</c>) as a user has them: a fresh host per
/// scenario configured from the "Mesh" section, real Kestrel replicas on loopback, public API only.
/// </summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class CustomBalancerTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_balancer_registered_by_name_gets_every_request_of_the_service_that_names_it()
    {
        var balancer = new PrimaryBalancer();
        await using var app = await App.StartAsync(3, balancer, primary: 1);

        var served = await app.SendAsync(90, concurrency: 4);

        // Equal weights: every built-in balancer would spread these over all three replicas.
        Assert.Equal(90, served.GetValueOrDefault("r1"));
        Assert.Equal(3, Assert.Single(balancer.Offered.Select(o => o.Length).Distinct()));
        Assert.Equal("Primary", app.Monitor.GetService("catalog").LoadBalancerName);
    }

    [Fact]
    public async Task An_ejected_endpoint_is_not_offered_to_the_balancer_and_its_traffic_moves_on()
    {
        var balancer = new PrimaryBalancer();
        await using var app = await App.StartAsync(3, balancer, primary: 1, new() { ["OutlierDetection:ConsecutiveFailures"] = "2" });
        await app.SendAsync(10, concurrency: 1);
        app.Replicas[1].Behavior.ErrorRate = 1.0;

        var failed = 0;
        for (var i = 0; i < 2; i++)
        {
            using var response = await app.Client.GetAsync("/", Token);
            failed += (int)response.StatusCode >= 500 ? 1 : 0;
        }

        var served = await app.SendAsync(60, concurrency: 4);

        Assert.Equal(2, failed);
        Assert.Equal(MeshEndpointHealth.Ejected, app.Monitor.GetService("catalog").Endpoints.Single(e => e.Endpoint.Address.Port == app.Replicas[1].Address.Port).Health);
        var last = balancer.Offered.Last();
        Assert.Equal(2, last.Length);
        Assert.DoesNotContain(app.Replicas[1].Address.Port, last);
        Assert.Equal(0, served.GetValueOrDefault("r1"));
        Assert.Equal(60, served.GetValueOrDefault("r0") + served.GetValueOrDefault("r2"));
    }

    [Fact]
    public async Task An_endpoint_failing_active_health_checks_is_not_offered_to_the_balancer()
    {
        var balancer = new PrimaryBalancer();
        await using var app = await App.StartAsync(3, balancer, primary: 0, new()
        {
            ["HealthCheck:Path"] = "/healthz",
            ["HealthCheck:Interval"] = "00:00:00.100",
            ["HealthCheck:UnhealthyThreshold"] = "1",
        });
        Assert.Equal(20, (await app.SendAsync(20, concurrency: 1)).GetValueOrDefault("r0"));

        app.Replicas[0].Behavior.Healthy = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (app.Monitor.GetService("catalog").Endpoints.Any(e => e.Health == MeshEndpointHealth.Healthy && e.Endpoint.Address.Port == app.Replicas[0].Address.Port) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Token);
        }

        var served = await app.SendAsync(20, concurrency: 1);

        // Without the primary, the balancer picks its first candidate (r1); r0 is no longer one.
        Assert.Equal(20, served.GetValueOrDefault("r1"));
        Assert.Equal(new[] { app.Replicas[1].Address.Port, app.Replicas[2].Address.Port }.Order(), balancer.Offered.Last().Order());
    }

    [Fact]
    public async Task An_unknown_balancer_name_stops_the_host_naming_the_key_and_every_registered_name()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => App.StartAsync(1, new PrimaryBalancer(), primary: 0, new() { ["LoadBalancer"] = "Primray" }));

        Assert.Contains("Mesh:Services:catalog:LoadBalancer: 'Primray' is not valid; allowed values: PeakEwma, RoundRobin, WeightedRoundRobin, Random, LeastRequest, ConsistentHash, Primary", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_balancer_types_under_one_name_stop_the_host()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            App.StartAsync(1, new PrimaryBalancer(), primary: 0, services: s => s.AddMeshLoadBalancer(new ThrowingBalancer("Primary"))));

        Assert.Contains($"'Primary' ({typeof(PrimaryBalancer).FullName} and {typeof(ThrowingBalancer).FullName}) is registered by two balancer types", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_built_in_name_in_any_case_still_selects_the_built_in_balancer()
    {
        await using var app = await App.StartAsync(3, new PrimaryBalancer(), primary: 0, new() { ["LoadBalancer"] = "roundrobin" });

        var served = await app.SendAsync(90, concurrency: 1);

        var service = app.Monitor.GetService("catalog");
        Assert.Equal(LoadBalancerKind.RoundRobin, service.LoadBalancer);
        Assert.Equal("RoundRobin", service.LoadBalancerName);
        Assert.All(app.Replicas, r => Assert.Equal(30, served.GetValueOrDefault(r.Id)));
    }

    [Fact]
    public async Task A_balancer_that_throws_is_logged_once_and_its_candidates_are_served_round_robin()
    {
        await using var app = await App.StartAsync(2, new ThrowingBalancer("Broken"), primary: 0, new() { ["LoadBalancer"] = "Broken" });

        var served = await app.SendAsync(40, concurrency: 1);

        Assert.Equal(20, served.GetValueOrDefault("r0"));
        Assert.Equal(20, served.GetValueOrDefault("r1"));
        var log = Assert.Single(app.Logs.GetSnapshot(), r => r.Id.Name == "BalancerFailed");
        Assert.Equal(LogLevel.Error, log.Level);
        Assert.Equal("Mesh.LoadBalancing", log.Category);
        Assert.IsType<NotSupportedException>(log.Exception);
    }

    [Fact]
    public void Setting_LoadBalancer_in_code_replaces_a_custom_name_and_a_built_in_name_sets_the_kind()
    {
        var options = new MeshServiceOptions { LoadBalancerName = "Primary" };
        Assert.Equal("Primary", options.LoadBalancerName);

        options.LoadBalancer = LoadBalancerKind.LeastRequest;
        Assert.Equal("LeastRequest", options.LoadBalancerName);

        options.LoadBalancerName = "consistenthash";
        Assert.Equal(LoadBalancerKind.ConsistentHash, options.LoadBalancer);
        Assert.Equal("ConsistentHash", options.LoadBalancerName);
    }

    [Fact]
    public void A_custom_picker_picks_without_allocating_through_the_mesh()
    {
        var options = new MeshServiceOptions { LoadBalancerName = "Primary" };
        for (var i = 0; i < 100; i++)
        {
            options.Endpoints.Add(new MeshEndpointOptions { Address = $"http://10.0.{i / 256}.{i % 256}:80", Weight = 1 + (i % 3) });
        }

        var env = new MeshEnvironment(TimeProvider.System) { Balancers = LoadBalancerCatalog.Create([new PrimaryBalancer()]) };
        using var service = new ServiceRuntime("catalog", env, options);
        service.Configure(options);
        var context = new PickContext(service.Now(), 0, false, 0);
        for (var i = 0; i < 100_000; i++)
        {
            service.Pick(context, null, out _); // warm-up (tiered compilation)
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            service.Pick(context, null, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void A_pick_outside_the_candidates_fails_naming_the_balancer()
    {
        var endpoints = PickerTestKit.NewEndpoints(1, 1);
        var picker = new OutOfRangeBalancer().CreateEndpointPicker(endpoints, [1, 1], new BalancerInputs("catalog", PickerTestKit.Settings(RandomSource.Seeded(1)), 1_000_000));

        var error = Assert.Throws<InvalidOperationException>(() => picker.Pick(new PickContext(1, 0, false, 0)));

        Assert.Contains("Load balancer 'OutOfRange'", error.Message, StringComparison.Ordinal);
        Assert.Contains("picked candidate 2; allowed: 0 to 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_balancer_can_wrap_a_built_in_one_through_the_public_contract()
    {
        var endpoints = PickerTestKit.NewEndpoints(1, 1, 1);
        var roundRobin = LoadBalancerCatalog.BuiltIn.Get("RoundRobin", "catalog");
        var candidates = new MeshPickerCandidates("catalog", endpoints, [1, 1, 1], PickerTestKit.Settings(RandomSource.Seeded(1)), 1_000_000);
        var picker = roundRobin.CreatePicker(candidates);

        var picks = Enumerable.Range(0, 30).Select(_ => picker.Pick(new MeshPickContext(1))).ToList();

        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(10, picks.Count(p => p == i)));
    }

    /// <summary>Sends everything to the candidate whose metadata has <c>role=primary</c>, else to the first candidate;
    /// records the ports of every candidate set it was offered.</summary>
    private sealed class PrimaryBalancer() : MeshLoadBalancer("Primary")
    {
        public ConcurrentQueue<int[]> Offered { get; } = new();

        public override MeshEndpointPicker CreatePicker(MeshPickerCandidates candidates)
        {
            Offered.Enqueue([.. candidates.Select(c => c.Endpoint.Address.Port)]);
            var primary = 0;
            foreach (var candidate in candidates)
            {
                if (candidate.Endpoint.Metadata.GetValueOrDefault("role") == "primary")
                {
                    primary = candidate.Index;
                }
            }

            return new Fixed(primary);
        }

        private sealed class Fixed(int index) : MeshEndpointPicker
        {
            public override int Pick(in MeshPickContext context) => index;
        }
    }

    private sealed class ThrowingBalancer(string name) : MeshLoadBalancer(name)
    {
        public override MeshEndpointPicker CreatePicker(MeshPickerCandidates candidates) => throw new NotSupportedException("this balancer is broken");
    }

    private sealed class OutOfRangeBalancer() : MeshLoadBalancer("OutOfRange")
    {
        public override MeshEndpointPicker CreatePicker(MeshPickerCandidates candidates) => new Picker(candidates.Count);

        private sealed class Picker(int count) : MeshEndpointPicker
        {
            public override int Pick(in MeshPickContext context) => count;
        }
    }

    /// <summary>Replicas r0..rn-1 and an application host whose "catalog" service lists them, replica
    /// <c>primary</c> with <c>Metadata:role=primary</c>, <c>LoadBalancer: Primary</c> unless overridden.</summary>
    private sealed class App : IAsyncDisposable
    {
        private readonly IHost _host;

        private App(List<InProcessReplica> replicas, IHost host, FakeLogCollector logs)
        {
            Replicas = replicas;
            _host = host;
            Logs = logs;
        }

        public List<InProcessReplica> Replicas { get; }

        public FakeLogCollector Logs { get; }

        public HttpClient Client => _host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        public MeshMonitor Monitor => _host.Services.GetRequiredService<MeshMonitor>();

        public static async Task<App> StartAsync(int count, MeshLoadBalancer balancer, int primary, Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
        {
            var replicas = new List<InProcessReplica>();
            try
            {
                for (var i = 0; i < count; i++)
                {
                    replicas.Add(await InProcessReplica.StartAsync($"r{i}", cancellationToken: Token));
                }

                var data = new Dictionary<string, string?> { ["Mesh:Services:catalog:LoadBalancer"] = "Primary" };
                for (var i = 0; i < count; i++)
                {
                    data[$"Mesh:Services:catalog:Endpoints:{i}:Address"] = replicas[i].Address.ToString();
                }

                data[$"Mesh:Services:catalog:Endpoints:{primary}:Metadata:role"] = "primary";
                foreach (var (key, value) in settings ?? [])
                {
                    data["Mesh:Services:catalog:" + key] = value;
                }

                var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
                builder.Configuration.AddInMemoryCollection(data);
                builder.Logging.AddFakeLogging();
                builder.Services.AddMeshClient();
                builder.Services.AddMeshLoadBalancer(balancer);
                services?.Invoke(builder.Services);
                builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
                var host = builder.Build();
                try
                {
                    await host.StartAsync(Token);
                }
                catch
                {
                    host.Dispose();
                    throw;
                }

                return new App(replicas, host, host.Services.GetFakeLogCollector());
            }
            catch
            {
                foreach (var replica in replicas)
                {
                    await replica.DisposeAsync();
                }

                throw;
            }
        }

        /// <summary>Sends GETs; every one must succeed. Returns the requests per replica id.</summary>
        public async Task<Dictionary<string, int>> SendAsync(int count, int concurrency)
        {
            var report = await TrafficDriver.RunAsync(Client, new TrafficOptions { RequestCount = count, Concurrency = concurrency, MaxDuration = TimeSpan.FromMinutes(1) }, Token);
            report.AssertNoFailures();
            return report.Replicas.ToDictionary(r => r.Replica, r => (int)r.Requests);
        }

        public async ValueTask DisposeAsync()
        {
            await ((IAsyncDisposable)_host).DisposeAsync();
            foreach (var replica in Replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }
}
