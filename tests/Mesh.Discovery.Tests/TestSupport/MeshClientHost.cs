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

    /// <summary>Sends <paramref name="count"/> GETs to <paramref name="service"/> one after another.</summary>
    public Task<TrafficReport> SendAsync(string service, int count) =>
        TrafficDriver.RunAsync(Client(service), Requests(concurrency: 1, count), TestContext.Current.CancellationToken);

    /// <summary>Starts load from <paramref name="workers"/> workers (at <paramref name="requestsPerSecond"/> in all, or as
    /// fast as they can) until <see cref="TrafficRun.StopAsync"/>, which lets the requests in flight finish and count.</summary>
    public TrafficRun StartLoad(string service, int workers, double? requestsPerSecond = null)
    {
        var options = Requests(workers, count: null);
        options.RequestsPerSecond = requestsPerSecond;
        return TrafficDriver.Start(Client(service), options, cancellationToken: TestContext.Current.CancellationToken);
    }

    /// <summary>A success is a 2xx answer, named by the replica header ("?" without one).</summary>
    private static TrafficOptions Requests(int concurrency, long? count) => new()
    {
        Concurrency = concurrency,
        RequestCount = count,
        IdentifyReplica = static response => response.Headers.TryGetValues(InProcessReplica.ReplicaHeader, out var v) ? v.First() : "?",
        IsSuccess = static response => response.IsSuccessStatusCode,
    };

    public async ValueTask DisposeAsync() => await Services.DisposeAsync();
}
