using System.Collections.Concurrent;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Discovery.Tests.TestSupport;

/// <summary>
/// A mesh client as an app would have it: AddMeshClient() + AddMeshDiscovery() and a named HttpClient per service
/// (http://{service}) through AddMeshHandler(), configured from in-memory configuration.
/// </summary>
internal sealed class MeshClientHost : IAsyncDisposable
{
    private MeshClientHost(ServiceProvider services, FakeLogCollector logs)
    {
        Services = services;
        Logs = logs;
    }

    public ServiceProvider Services { get; }

    public FakeLogCollector Logs { get; }

    public MeshMonitor Monitor => Services.GetRequiredService<MeshMonitor>();

    public static MeshClientHost Start(Dictionary<string, string?> settings, params string[] serviceNames)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        var logs = new FakeLogCollector();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging(b => b.AddProvider(new FakeLoggerProvider(logs)).SetMinimumLevel(LogLevel.Debug));
        services.AddMeshClient();
        services.AddMeshDiscovery();
        services.AddHealthChecks().AddMeshHealthCheck();
        foreach (var name in serviceNames)
        {
            services.AddHttpClient(name, c => c.BaseAddress = new Uri($"http://{name}")).AddMeshHandler();
        }

        var provider = services.BuildServiceProvider();
        provider.GetRequiredService<MeshMonitor>(); // builds the mesh and starts the watches, as a host's start would
        return new MeshClientHost(provider, logs);
    }

    public HttpClient Client(string service) => Services.GetRequiredService<IHttpClientFactory>().CreateClient(service);

    /// <summary>The endpoint addresses the mesh routes to for <paramref name="service"/> now.</summary>
    public IReadOnlyList<string> Endpoints(string service) =>
        [.. Monitor.GetService(service).Endpoints.Select(e => e.Endpoint.Key).Order(StringComparer.Ordinal)];

    public string? Problem(string service) => Monitor.GetService(service).DiscoveryProblem;

    /// <summary>The mesh health check's result, as a health endpoint would report it.</summary>
    public async Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthReport> HealthAsync() =>
        await Services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>().CheckHealthAsync(TestContext.Current.CancellationToken);

    /// <summary>Waits until <paramref name="condition"/> holds, checking every 10 ms; returns how long it took.</summary>
    public static async Task<TimeSpan> WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
            {
                Assert.Fail($"timed out after {timeout} waiting until {what}");
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        return watch.Elapsed;
    }

    /// <summary>Sends <paramref name="count"/> GETs one after another; counts answers per replica and failures.</summary>
    public async Task<(Dictionary<string, int> PerReplica, List<string> Failures)> SendAsync(string service, int count)
    {
        var perReplica = new Dictionary<string, int>(StringComparer.Ordinal);
        var failures = new List<string>();
        var client = Client(service);
        for (var i = 0; i < count; i++)
        {
            var (id, failure) = await SendOneAsync(client);
            if (failure is not null)
            {
                failures.Add(failure);
            }
            else
            {
                perReplica[id!] = perReplica.GetValueOrDefault(id!) + 1;
            }
        }

        return (perReplica, failures);
    }

    public static async Task<(string? Replica, string? Failure)> SendOneAsync(HttpClient client)
    {
        try
        {
            using var response = await client.GetAsync("/", TestContext.Current.CancellationToken);
            var id = response.Headers.TryGetValues(InProcessReplica.ReplicaHeader, out var v) ? v.First() : "?";
            return response.IsSuccessStatusCode ? (id, null) : (id, $"{id}: HTTP {(int)response.StatusCode}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or MeshRetryBudgetExceededException or InvalidOperationException)
        {
            return (null, ex.GetType().Name + ": " + ex.Message);
        }
    }

    /// <summary>Load from <paramref name="workers"/> concurrent loops until stopped; counts per replica and failures.</summary>
    public LoadRun StartLoad(string service, int workers) => new(Client(service), workers);

    public async ValueTask DisposeAsync() => await Services.DisposeAsync();

    internal sealed class LoadRun
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;

        public LoadRun(HttpClient client, int workers)
        {
            _run = Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var (id, failure) = await SendOneAsync(client);
                    if (failure is not null)
                    {
                        Failures.Add(failure);
                    }
                    else
                    {
                        PerReplica.AddOrUpdate(id!, 1, (_, n) => n + 1);
                    }
                }
            })));
        }

        public ConcurrentDictionary<string, int> PerReplica { get; } = new(StringComparer.Ordinal);

        public ConcurrentBag<string> Failures { get; } = [];

        public int Requests => PerReplica.Values.Sum() + Failures.Count;

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _run;
            _stop.Dispose();
        }
    }
}
