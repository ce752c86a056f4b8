using Mesh.Testing;
using Mesh.Tests.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Tests.Configuration;

/// <summary>The configuration schema, validation on start, and reloads.</summary>
public sealed class ConfigurationTests
{
    /// <summary>What the registered configuration steps bind (without validation, which the other tests cover).</summary>
    private static MeshOptions Bind(Dictionary<string, string?> settings, Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddMeshClient();
        more?.Invoke(services);
        using var provider = services.BuildServiceProvider();
        var options = new MeshOptions();
        foreach (var configure in provider.GetServices<IConfigureOptions<MeshOptions>>())
        {
            configure.Configure(options);
        }

        Assert.Empty(options.ConfigurationErrors);
        return options;
    }

    private static async Task<string> StartFailureAsync(Dictionary<string, string?> settings, Action<IServiceCollection>? more = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMeshClient();
        more?.Invoke(builder.Services);
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        return error.Message;
    }

    [Fact]
    public void The_brief_schema_binds_endpoints_as_objects_and_as_plain_strings()
    {
        var options = Bind(new()
        {
            ["Mesh:Zone"] = "eu-1a",
            ["Mesh:Services:catalog:LoadBalancer"] = "WeightedRoundRobin",
            ["Mesh:Services:catalog:Endpoints:0:Address"] = "https://127.0.0.1:5001",
            ["Mesh:Services:catalog:Endpoints:0:Weight"] = "3",
            ["Mesh:Services:catalog:Endpoints:0:Zone"] = "eu-1a",
            ["Mesh:Services:catalog:Endpoints:0:Metadata:version"] = "v1",
            ["Mesh:Services:catalog:Endpoints:1"] = "http://127.0.0.1:5002",
            ["Mesh:Services:catalog:ServerIdentity"] = "spiffe://mesh.test/catalog",
            ["Mesh:Services:catalog:HealthCheck:Path"] = "/healthz",
            ["Mesh:Services:catalog:HealthCheck:Interval"] = "00:00:05",
            ["Mesh:Services:catalog:HealthCheck:UnhealthyThreshold"] = "2",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "5",
            ["Mesh:Services:catalog:OutlierDetection:BaseEjectionTime"] = "00:00:30",
            ["Mesh:Services:catalog:OutlierDetection:FailureKinds"] = "ConnectionFailure, ServerError",
            ["Mesh:Services:catalog:PanicThreshold"] = "40",
            ["Mesh:Services:catalog:HashHeader"] = "x-user-id",
        });

        Assert.Equal("eu-1a", options.Zone);
        var catalog = options.Services["catalog"];
        Assert.Equal(LoadBalancerKind.WeightedRoundRobin, catalog.LoadBalancer);
        Assert.Equal(2, catalog.Endpoints.Count);
        Assert.Equal(("https://127.0.0.1:5001", 3, "eu-1a", "v1"), (catalog.Endpoints[0].Address, catalog.Endpoints[0].Weight, catalog.Endpoints[0].Zone, catalog.Endpoints[0].Metadata["version"]));
        Assert.Equal(("http://127.0.0.1:5002", 1), (catalog.Endpoints[1].Address, catalog.Endpoints[1].Weight));
        Assert.Equal("spiffe://mesh.test/catalog", catalog.ServerIdentity);
        Assert.Equal(("/healthz", TimeSpan.FromSeconds(5), 2), (catalog.HealthCheck.Path, catalog.HealthCheck.Interval, catalog.HealthCheck.UnhealthyThreshold));
        Assert.Equal(OutlierFailureKinds.ConnectionFailure | OutlierFailureKinds.ServerError, catalog.OutlierDetection.FailureKinds);
        Assert.Equal((40, "x-user-id"), (catalog.PanicThreshold, catalog.HashHeader));
    }

    [Fact]
    public void Calling_AddMeshClient_twice_binds_each_endpoint_once()
    {
        var options = Bind(new() { ["Mesh:Services:catalog:Endpoints:0"] = "http://127.0.0.1:5001" }, s => s.AddMeshClient());

        Assert.Single(options.Services["catalog"].Endpoints);
    }

    [Theory]
    [InlineData("Mesh:Services:catalog:LoadBalancer", "Fastest", "Mesh:Services:catalog:LoadBalancer: 'Fastest' is not valid; allowed values: PeakEwma, RoundRobin, WeightedRoundRobin, Random, LeastRequest, ConsistentHash (the built-in balancers, and those registered with services.AddMeshLoadBalancer<TBalancer>()).")]
    [InlineData("Mesh:Services:catalog:Endpoints:0:Weight", "0", "Mesh:Services:catalog:Endpoints:0:Weight: 0 is out of range; allowed: a positive integer (default 1)")]
    [InlineData("Mesh:Services:catalog:Endpoints:0:Weight", "-2", "Mesh:Services:catalog:Endpoints:0:Weight: -2 is out of range")]
    [InlineData("Mesh:Services:catalog:Endpoints:0:Address", "127.0.0.1:5001", "Mesh:Services:catalog:Endpoints:0:Address: '127.0.0.1:5001' is not an absolute address; expected scheme://host:port")]
    [InlineData("Mesh:Services:catalog:Endpoints:0:Address", "tcp://127.0.0.1:5001", "Mesh:Services:catalog:Endpoints:0:Address: 'tcp://127.0.0.1:5001/' has the scheme 'tcp'; allowed schemes: http, https.")]
    [InlineData("Mesh:Services:catalog:Endpoints:0:Address", "http://127.0.0.1:5001/api", "has a path, query, fragment or user info")]
    [InlineData("Mesh:Services:catalog:Endpoints:1:Address", "http://127.0.0.1:5001", "Mesh:Services:catalog:Endpoints:1: duplicate endpoint http://127.0.0.1:5001 (already at Mesh:Services:catalog:Endpoints:0)")]
    [InlineData("Mesh:Services:catalog:Discovery", "Etcd", "Mesh:Services:catalog:Discovery: 'Etcd' is not a registered discovery provider; registered: Configuration. Call services.AddMeshDiscovery()")]
    [InlineData("Mesh:Services:catalog:PanicThreshold", "150", "Mesh:Services:catalog:PanicThreshold: 150 is out of range; allowed: 0 (never) to 100")]
    [InlineData("Mesh:Services:catalog:HealthCheck:Interval", "soon", "Mesh:Services:catalog:HealthCheck:Interval: 'soon' is not a time span")]
    [InlineData("Mesh:ConnectTimeout", "30", "Mesh:ConnectTimeout: '30' is not a time span; use hh:mm:ss[.fff]")]
    [InlineData("Mesh:ConnectTimeout", "00:00:00", "Mesh:ConnectTimeout: 00:00:00 is out of range; allowed: 00:00:00.100 to 00:05:00.")]
    [InlineData("Mesh:Services:catalog:ServerIdentity", "spiffe://Mesh.Test/catalog", "Mesh:Services:catalog:ServerIdentity: 'spiffe://Mesh.Test/catalog' is not a SPIFFE ID or pattern")]
    [InlineData("Mesh:Identity:CertificatePath", "certs/svid.pem", "Mesh:Identity:KeyPath: required")]
    [InlineData("Services:inventory:http:0", "inventory.local:bad", "Services:inventory:http:0: 'http://inventory.local:bad' is not an absolute address")]
    [InlineData("Mesh:Services:catalog:OutlierDetection:FailureKinds", "Timeout, Teapot", "'Teapot' is not valid; allowed values (comma-separated): None, ConnectionFailure, Timeout, ServerError, Cancellation.")]
    public async Task Invalid_configuration_stops_the_host_naming_the_key_and_allowed_values(string key, string value, string expected)
    {
        var message = await StartFailureAsync(new()
        {
            ["Mesh:Services:catalog:Endpoints:0:Address"] = "http://127.0.0.1:5001",
            [key] = value,
        });

        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Service_discovery_entries_are_ignored_when_reading_them_is_turned_off()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:ReadServiceDiscoveryConfiguration"] = "false",
            ["Mesh:Services:catalog:Endpoints:0"] = "http://127.0.0.1:5001",
            ["Services:inventory:http:0"] = "inventory.local:bad",
        });
        builder.Services.AddMeshClient();
        using var host = builder.Build();

        await host.StartAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["catalog"], host.Services.GetRequiredService<MeshMonitor>().ServiceNames);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Turning_health_checks_off_by_a_reload_releases_endpoints_they_held_back()
    {
        await using var host = await MeshTestHost.StartAsync(2, new()
        {
            ["Mesh:Services:catalog:HealthCheck:Path"] = "/healthz",
            ["Mesh:Services:catalog:HealthCheck:Interval"] = "00:00:00.200",
            ["Mesh:Services:catalog:HealthCheck:Timeout"] = "00:00:00.150",
            ["Mesh:Services:catalog:HealthCheck:UnhealthyThreshold"] = "1",
        });
        host.Replicas[0].Behavior.Healthy = false;
        for (var i = 0; i < 100 && host.Monitor.GetService("catalog").Endpoints[0].Health != MeshEndpointHealth.Unhealthy; i++)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.Equal(MeshEndpointHealth.Unhealthy, host.Monitor.GetService("catalog").Endpoints[0].Health);
        host.Configuration["Mesh:Services:catalog:HealthCheck:Path"] = "";
        host.Configuration.Reload();

        Assert.Equal(MeshEndpointHealth.Healthy, host.Monitor.GetService("catalog").Endpoints[0].Health);
    }

    [Fact]
    public async Task A_client_whose_base_address_is_not_a_service_stops_the_host()
    {
        var message = await StartFailureAsync(
            new() { ["Mesh:Services:catalog:Endpoints:0"] = "http://127.0.0.1:5001" },
            s => s.AddHttpClient("Storefront", c => c.BaseAddress = new Uri("http://catlog")).AddMeshHandler());

        Assert.Contains("HttpClient 'Storefront' uses AddMeshHandler() and targets 'catlog', which is not a mesh service", message, StringComparison.Ordinal);
        Assert.Contains("Known services: catalog", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reload_adds_endpoints_for_new_requests_and_keeps_statistics_of_those_that_stay()
    {
        await using var host = await MeshTestHost.StartAsync(2, new() { ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin", ["Mesh:Services:catalog:SlowStart:Window"] = "00:00:00" });
        await using var third = await InProcessReplica.StartAsync("r2", cancellationToken: TestContext.Current.CancellationToken);
        await host.SendAsync(10);

        host.Configuration["Mesh:Services:catalog:Endpoints:2:Address"] = third.Address.ToString();
        host.Configuration.Reload();
        var (perReplica, failures) = await host.SendAsync(30);

        Assert.Empty(failures);
        Assert.Equal(10, perReplica["r2"]);
        var snapshot = host.Monitor.GetService("catalog");
        Assert.Equal(3, snapshot.Endpoints.Count);
        Assert.Equal(15, snapshot.Endpoints.Single(e => e.Endpoint.Address.Port == host.Replicas[0].Port).Requests);
    }

    [Fact]
    public async Task A_reload_that_removes_an_endpoint_does_not_drop_its_request_in_flight()
    {
        await using var host = await MeshTestHost.StartAsync(1);
        host.Replicas[0].Behavior.Latency = TimeSpan.FromMilliseconds(500);
        await using var other = await InProcessReplica.StartAsync("other", cancellationToken: TestContext.Current.CancellationToken);
        var inFlight = host.Client.GetStringAsync("/", TestContext.Current.CancellationToken);
        await Task.Delay(100, TestContext.Current.CancellationToken);

        host.Configuration["Mesh:Services:catalog:Endpoints:0:Address"] = other.Address.ToString();
        host.Configuration.Reload();
        var afterReload = await host.Client.GetStringAsync("/", TestContext.Current.CancellationToken);

        Assert.Equal("other", afterReload);
        Assert.Equal("r0", await inFlight);
    }

    [Fact]
    public async Task An_invalid_reload_is_refused_and_the_last_good_configuration_stays()
    {
        await using var host = await MeshTestHost.StartAsync(2);

        host.Configuration["Mesh:Services:catalog:LoadBalancer"] = "Fastest";
        host.Configuration.Reload();
        var (perReplica, failures) = await host.SendAsync(20);

        Assert.Empty(failures);
        Assert.Equal(20, perReplica.Values.Sum());
        Assert.Equal(LoadBalancerKind.PeakEwma, host.Monitor.GetService("catalog").LoadBalancer);
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Name == "ReloadRefused" && r.Message.Contains("'Fastest' is not valid", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reload_that_throws_while_building_the_options_is_refused_without_throwing_into_Reload()
    {
        var fail = false;
        await using var host = await MeshTestHost.StartAsync(1, configureServices: s => s.PostConfigure<MeshOptions>(_ =>
        {
            if (Volatile.Read(ref fail))
            {
                throw new InvalidOperationException("a configure step failed");
            }
        }));
        var monitor = host.Services.GetRequiredService<IOptionsMonitor<MeshOptions>>();
        var before = monitor.CurrentValue;

        Volatile.Write(ref fail, true);
        host.Configuration["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin";
        host.Configuration.Reload();

        Assert.Same(before, monitor.CurrentValue);
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Name == "ReloadRefused" && r.Message.Contains("InvalidOperationException: a configure step failed", StringComparison.Ordinal));
        Assert.Equal(LoadBalancerKind.PeakEwma, host.Monitor.GetService("catalog").LoadBalancer);
        var (_, failures) = await host.SendAsync(5);
        Assert.Empty(failures);
    }

    [Fact]
    public async Task A_change_listener_that_throws_does_not_keep_the_mesh_from_applying_a_reload()
    {
        await using var host = await MeshTestHost.StartAsync(1);
        var monitor = host.Services.GetRequiredService<IOptionsMonitor<MeshOptions>>();
        using var listener = monitor.OnChange((_, _) => throw new InvalidOperationException("listener failed"));

        host.Configuration["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin";
        host.Configuration.Reload();

        Assert.Equal(LoadBalancerKind.RoundRobin, host.Monitor.GetService("catalog").LoadBalancer);
        Assert.Equal(LoadBalancerKind.RoundRobin, monitor.CurrentValue.Services["catalog"].LoadBalancer);
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Name == "ChangeHandlerFailed");
    }
}
