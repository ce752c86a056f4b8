using System.Diagnostics.CodeAnalysis;
using System.Net;
using Mesh.Discovery.ServiceDiscovery.Internal;
using Mesh.Testing;
using Mesh.Tests.Shared;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.ServiceDiscovery;

namespace Mesh.Discovery.Tests.ServiceDiscovery;

/// <summary>
/// <c>Discovery: ServiceDiscovery</c> against the real Microsoft.Extensions.ServiceDiscovery packages, as an app has it:
/// a fresh host per scenario with <c>AddServiceDiscovery()</c> (MESD's configuration and pass-through providers),
/// <c>AddMeshClient()</c> and <c>AddMeshServiceDiscovery()</c>, real Kestrel replicas, and calls right after start.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class ServiceDiscoveryProviderTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static IHost Build(Dictionary<string, string?> settings, Action<IServiceCollection>? more = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddServiceDiscovery();
        more?.Invoke(builder.Services);
        builder.Services.AddMeshClient();
        builder.Services.AddMeshServiceDiscovery();
        builder.Services.AddHttpClient("inventory", c => c.BaseAddress = new Uri("http://inventory")).AddMeshHandler();
        return builder.Build();
    }

    private static HttpClient Client(IHost host) => host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("inventory");

    private static async Task<Dictionary<string, int>> SendAsync(IHost host, int count)
    {
        var report = await TrafficDriver.RunAsync(Client(host), new TrafficOptions { RequestCount = count, MaxDuration = TimeSpan.FromSeconds(30) }, Token);
        report.AssertNoFailures();
        return report.Replicas.ToDictionary(r => r.Replica, r => (int)r.Requests);
    }

    private static string Address(InProcessReplica replica) => replica.Address.ToString().TrimEnd('/');

    [Fact]
    public async Task Endpoints_from_MESD_configuration_are_balanced_by_the_mesh_from_the_first_request()
    {
        await using var a = await InProcessReplica.StartAsync("a", cancellationToken: Token);
        await using var b = await InProcessReplica.StartAsync("b", cancellationToken: Token);
        using var host = Build(new()
        {
            ["Services:inventory:http:0"] = Address(a),
            ["Services:inventory:http:1"] = Address(b),
            ["Mesh:Services:inventory:Discovery"] = "ServiceDiscovery",
            ["Mesh:Services:inventory:LoadBalancer"] = "RoundRobin",
        });

        await host.StartAsync(Token);
        var served = await SendAsync(host, 10);

        Assert.Equal(5, served.GetValueOrDefault("a"));
        Assert.Equal(5, served.GetValueOrDefault("b"));
        var service = host.Services.GetRequiredService<MeshMonitor>().GetService("inventory");
        Assert.Equal(2, service.Endpoints.Count);
        Assert.Null(service.DiscoveryProblem);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_configuration_reload_reaches_the_mesh_through_MESD_change_token()
    {
        await using var a = await InProcessReplica.StartAsync("a", cancellationToken: Token);
        await using var b = await InProcessReplica.StartAsync("b", cancellationToken: Token);
        using var host = Build(new()
        {
            ["Services:inventory:http:0"] = Address(a),
            ["Mesh:Services:inventory:Discovery"] = "ServiceDiscovery",
        });
        await host.StartAsync(Token);
        Assert.Equal(5, (await SendAsync(host, 5)).GetValueOrDefault("a"));

        var configuration = (IConfigurationRoot)host.Services.GetRequiredService<IConfiguration>();
        configuration["Services:inventory:http:0"] = Address(b);
        configuration.Reload();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (b.RequestCount == 0 && DateTime.UtcNow < deadline)
        {
            using var _ = await Client(host).GetAsync("/", Token);
            await Task.Delay(20, Token);
        }

        var before = a.RequestCount;
        var served = await SendAsync(host, 10);

        Assert.Equal(10, served.GetValueOrDefault("b"));
        Assert.Equal(before, a.RequestCount);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_failed_resolution_keeps_the_last_good_endpoints_and_a_later_one_recovers()
    {
        await using var a = await InProcessReplica.StartAsync("a", cancellationToken: Token);
        var source = new SwitchableProvider(a.Address);
        using var host = Build(new() { ["Mesh:Services:inventory:Discovery"] = "ServiceDiscovery" },
            services => services.AddSingleton<IServiceEndpointProviderFactory>(source));
        await host.StartAsync(Token);
        Assert.Equal(3, (await SendAsync(host, 3)).GetValueOrDefault("a"));
        var monitor = host.Services.GetRequiredService<MeshMonitor>();

        source.Fail = true;
        source.Change();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (monitor.GetService("inventory").DiscoveryProblem is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, Token);
        }

        var problem = monitor.GetService("inventory").DiscoveryProblem;
        var whileFailing = await SendAsync(host, 5);
        source.Fail = false;
        source.Change();
        while (monitor.GetService("inventory").DiscoveryProblem is not null && DateTime.UtcNow < deadline + TimeSpan.FromSeconds(20))
        {
            await Task.Delay(20, Token);
        }

        Assert.NotNull(problem);
        Assert.Contains("the registry is down", problem, StringComparison.Ordinal);
        Assert.Equal(5, whileFailing.GetValueOrDefault("a"));
        Assert.Null(monitor.GetService("inventory").DiscoveryProblem);
        await host.StopAsync(Token);
    }

    [Fact]
    public void A_host_and_port_take_the_scheme_they_were_resolved_for_and_its_default_port()
    {
        Assert.True(ServiceDiscoveryMeshProvider.TryMap(new DnsEndPoint("inventory", 0), "https", out var passThrough, out _));
        Assert.True(ServiceDiscoveryMeshProvider.TryMap(new IPEndPoint(IPAddress.Loopback, 5001), "http", out var ip, out _));
        Assert.True(ServiceDiscoveryMeshProvider.TryMap(new UriEndPoint(new Uri("https://10.0.0.5:8443")), "http", out var uri, out _));
        Assert.False(ServiceDiscoveryMeshProvider.TryMap(new UriEndPoint(new Uri("http://10.0.0.5:8080/api")), "http", out _, out var problem));

        Assert.Equal("https://inventory:443", passThrough!.Key);
        Assert.Equal("http://127.0.0.1:5001", ip!.Key);
        Assert.Equal("https://10.0.0.5:8443", uri!.Key);
        Assert.Contains("path", problem, StringComparison.Ordinal);
    }

    /// <summary>An <c>IServiceEndpointProvider</c> of the app's own (a registry client, say) that can be made to fail,
    /// with a change token the test fires, as a registry watch would.</summary>
    private sealed class SwitchableProvider(Uri address) : IServiceEndpointProviderFactory, IServiceEndpointProvider
    {
        private CancellationTokenSource _change = new();
        private volatile bool _fail;

        public bool Fail
        {
            get => _fail;
            set => _fail = value;
        }

        public void Change() => Interlocked.Exchange(ref _change, new CancellationTokenSource()).Cancel();

        public bool TryCreateProvider(ServiceEndpointQuery query, [NotNullWhen(true)] out IServiceEndpointProvider? provider)
        {
            provider = query.ServiceName == "inventory" ? this : null;
            return provider is not null;
        }

        public ValueTask PopulateAsync(IServiceEndpointBuilder endpoints, CancellationToken cancellationToken)
        {
            endpoints.AddChangeToken(new CancellationChangeToken(Volatile.Read(ref _change).Token));
            if (Fail)
            {
                throw new InvalidOperationException("the registry is down");
            }

            endpoints.Endpoints.Add(ServiceEndpoint.Create(new UriEndPoint(address)));
            return default;
        }

        public ValueTask DisposeAsync() => default;
    }
}
