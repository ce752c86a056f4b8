using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Tests.TestSupport;

/// <summary>
/// Replicas on loopback plus a service provider with AddMeshClient and a named client "catalog" pointing at
/// http://catalog through AddMeshHandler, configured from in-memory configuration the test can change and reload.
/// </summary>
internal sealed class MeshTestHost : IAsyncDisposable
{
    private MeshTestHost(List<InProcessReplica> replicas, IConfigurationRoot configuration, ServiceProvider services, FakeLogCollector logs)
    {
        Replicas = replicas;
        Configuration = configuration;
        Services = services;
        Logs = logs;
    }

    public List<InProcessReplica> Replicas { get; }

    public IConfigurationRoot Configuration { get; }

    public ServiceProvider Services { get; }

    public FakeLogCollector Logs { get; }

    public HttpClient Client => Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

    public MeshMonitor Monitor => Services.GetRequiredService<MeshMonitor>();

    /// <summary>Starts <paramref name="replicaCount"/> replicas and a mesh client over them.</summary>
    /// <param name="replicaCount">How many replicas.</param>
    /// <param name="settings">Extra configuration; "{i}" in values is replaced by replica i's address where used via Endpoint(i).</param>
    /// <param name="configureClient">Adds handlers before the mesh handler (for example resilience).</param>
    /// <param name="configureServices">More services (for example a FakeTimeProvider).</param>
    /// <param name="weights">Endpoint weights, one per replica (default 1).</param>
    public static async Task<MeshTestHost> StartAsync(
        int replicaCount,
        Dictionary<string, string?>? settings = null,
        Action<IHttpClientBuilder>? configureClient = null,
        Action<IServiceCollection>? configureServices = null,
        int[]? weights = null,
        InProcessReplicaOptions? replicaOptions = null)
    {
        var replicas = new List<InProcessReplica>();
        for (var i = 0; i < replicaCount; i++)
        {
            replicas.Add(await InProcessReplica.StartAsync($"r{i}", replicaOptions, TestContext.Current.CancellationToken));
        }

        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < replicas.Count; i++)
        {
            data[$"Mesh:Services:catalog:Endpoints:{i}:Address"] = replicas[i].Address.ToString().TrimEnd('/');
            data[$"Mesh:Services:catalog:Endpoints:{i}:Weight"] = (weights?[i] ?? 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        foreach (var (key, value) in settings ?? [])
        {
            data[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(data).Build();
        var services = new ServiceCollection();
        var logs = new FakeLogCollector();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging(b => b.AddProvider(new FakeLoggerProvider(logs)).SetMinimumLevel(LogLevel.Debug));
        configureServices?.Invoke(services);
        services.AddMeshClient();
        var client = services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"));
        configureClient?.Invoke(client);
        client.AddMeshHandler();
        var provider = services.BuildServiceProvider();
        provider.GetRequiredService<MeshMonitor>(); // as a host's start-up validation would: build the mesh now
        return new MeshTestHost(replicas, configuration, provider, logs);
    }

    /// <summary>Sends <paramref name="count"/> GETs one after another; returns how many each replica answered and the failures.</summary>
    public Task<(Dictionary<string, int> PerReplica, List<string> Failures)> SendAsync(int count, string path = "/", Func<HttpRequestMessage, HttpRequestMessage>? decorate = null) =>
        SendAsync(count, concurrency: 1, path, decorate);

    /// <summary>Sends requests with <paramref name="concurrency"/> workers for <paramref name="count"/> requests in all.</summary>
    public Task<(Dictionary<string, int> PerReplica, List<string> Failures)> SendConcurrentAsync(int count, int concurrency, string path = "/") =>
        SendAsync(count, concurrency, path, decorate: null);

    /// <summary>Runs <see cref="TrafficDriver"/> through <see cref="Client"/>; the report keeps each failure's status or exception.</summary>
    public Task<TrafficReport> RunTrafficAsync(TrafficOptions options) => TrafficDriver.RunAsync(Client, options, TestContext.Current.CancellationToken);

    /// <summary>Starts <see cref="TrafficDriver"/> through <see cref="Client"/> until <see cref="TrafficRun.StopAsync"/>.</summary>
    public TrafficRun StartTraffic(TrafficOptions options) => TrafficDriver.Start(Client, options, cancellationToken: TestContext.Current.CancellationToken);

    private async Task<(Dictionary<string, int> PerReplica, List<string> Failures)> SendAsync(int count, int concurrency, string path, Func<HttpRequestMessage, HttpRequestMessage>? decorate)
    {
        var report = await RunTrafficAsync(TestTraffic.Requests(count, concurrency, path, decorate));
        // A failure the mesh should never produce (anything but a failed request, a timeout or a spent retry budget)
        // fails the test with its own stack trace, as it would outside the traffic driver.
        var unexpected = report.Failures.FirstOrDefault(f => f.Exception is not (null or HttpRequestException or TaskCanceledException or MeshRetryBudgetExceededException));
        if (unexpected is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(unexpected.Exception!);
        }

        Assert.True(report.Failed == report.Failures.Count, $"{report.Failed} failures, more than the report keeps");
        var failures = report.Failures.Select(f => f.Exception is { } e ? $"{e.GetType().Name}: {e.Message}" : $"{f.Replica ?? "?"}: HTTP {(int)f.StatusCode!}");
        return (report.Replicas.ToDictionary(r => r.Replica, r => (int)r.Requests, StringComparer.Ordinal), [.. failures]);
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        foreach (var replica in Replicas)
        {
            await replica.DisposeAsync();
        }
    }
}
