using System.Globalization;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Tests.LoadBalancing;

/// <summary>
/// What a user has: real Kestrel replicas on loopback, and an application host (<c>Host.CreateApplicationBuilder</c>)
/// configured from the "Mesh" section with <c>AddMeshClient()</c> and a named client "catalog" through
/// <c>AddMeshHandler()</c>. Traffic goes through Mesh.Testing's <see cref="TrafficDriver"/>.
/// </summary>
internal sealed class BalancedFleet : IAsyncDisposable
{
    private readonly IHost _host;

    private BalancedFleet(List<InProcessReplica> replicas, IHost host)
    {
        Replicas = replicas;
        _host = host;
    }

    public List<InProcessReplica> Replicas { get; }

    /// <summary>The application's configuration; set values and call <see cref="IConfigurationRoot.Reload"/> as a file change would.</summary>
    public IConfigurationRoot Configuration => (IConfigurationRoot)_host.Services.GetRequiredService<IConfiguration>();

    public HttpClient Client => _host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

    /// <summary>The mesh's view of the "catalog" endpoint of replica <paramref name="index"/>.</summary>
    public MeshEndpointSnapshot Endpoint(int index) =>
        _host.Services.GetRequiredService<MeshMonitor>().GetService("catalog").Endpoints.Single(e => e.Endpoint.Address.Port == Replicas[index].Address.Port);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Starts one replica per weight and an application whose "catalog" service lists them.</summary>
    /// <param name="balancer">The <c>LoadBalancer</c> value, or <see langword="null"/> for the default.</param>
    /// <param name="weights">One endpoint weight per replica (replica ids r0, r1, ...).</param>
    /// <param name="settings">More configuration under the service ("SlowStart:Window" becomes
    /// "Mesh:Services:catalog:SlowStart:Window").</param>
    /// <param name="meshHedging">Whether the client hedges with <c>AddMeshHedging()</c> (instead of <c>AddMeshHandler()</c>).</param>
    /// <param name="replicaOptions">Options of replica i (for example an app of its own); <see langword="null"/> for the defaults.</param>
    public static async Task<BalancedFleet> StartAsync(string? balancer, int[] weights, Dictionary<string, string>? settings = null, bool meshHedging = false,
        Func<int, InProcessReplicaOptions?>? replicaOptions = null)
    {
        var replicas = new List<InProcessReplica>();
        for (var i = 0; i < weights.Length; i++)
        {
            replicas.Add(await InProcessReplica.StartAsync($"r{i}", replicaOptions?.Invoke(i), Token));
        }

        var data = new Dictionary<string, string?>();
        if (balancer is not null)
        {
            data["Mesh:Services:catalog:LoadBalancer"] = balancer;
        }

        for (var i = 0; i < weights.Length; i++)
        {
            data[$"Mesh:Services:catalog:Endpoints:{i}:Address"] = replicas[i].Address.ToString().TrimEnd('/');
            data[$"Mesh:Services:catalog:Endpoints:{i}:Weight"] = weights[i].ToString(CultureInfo.InvariantCulture);
        }

        foreach (var (key, value) in settings ?? [])
        {
            data["Mesh:Services:catalog:" + key] = value;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(data);
        builder.Services.AddMeshClient();
        var client = builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"));
        if (meshHedging)
        {
            client.AddMeshHedging();
        }
        else
        {
            client.AddMeshHandler();
        }
        var host = builder.Build();
        await host.StartAsync(Token);
        return new BalancedFleet(replicas, host);
    }

    /// <summary>Sends <paramref name="count"/> GETs with <paramref name="concurrency"/> workers; fails the test on any failed request.</summary>
    public async Task<TrafficReport> SendAsync(int count, int concurrency)
    {
        var report = await TrafficDriver.RunAsync(Client, new TrafficOptions { RequestCount = count, Concurrency = concurrency, MaxDuration = TimeSpan.FromMinutes(2) }, Token);
        TestContext.Current.TestOutputHelper?.WriteLine($"{count} requests, concurrency {concurrency}: {report}");
        report.AssertNoFailures();
        return report;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync(CancellationToken.None);
        _host.Dispose();
        foreach (var replica in Replicas)
        {
            await replica.DisposeAsync();
        }
    }
}

/// <summary>Share assertions with relative tolerances, as the issue states them ("within ±25% of an even share").</summary>
internal static class Shares
{
    /// <summary>Asserts that replica i's share is within ±<paramref name="tolerance"/> (relative) of weights[i] / sum(weights).</summary>
    public static void AssertProportional(TrafficReport report, int[] weights, double tolerance)
    {
        var total = weights.Sum();
        var problems = new List<string>();
        for (var i = 0; i < weights.Length; i++)
        {
            var expected = (double)weights[i] / total;
            var actual = report.ShareOf($"r{i}");
            if (Math.Abs(actual - expected) > tolerance * expected)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"r{i}: {actual:P1}, expected {expected:P1} ± {tolerance * expected:P1}"));
            }
        }

        Assert.True(problems.Count == 0, string.Join("; ", problems) + Environment.NewLine + report);
    }
}
