using Mesh.Discovery.Registration;
using Mesh.Discovery.Registration.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Tests.Configuration;

public sealed class DiscoveryConfigurationTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings, Action<IServiceCollection> add)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        add(services);
        return services.BuildServiceProvider();
    }

    private static string ValidationMessage(Action action) => Assert.Throws<OptionsValidationException>(action).Message;

    [Fact]
    public void AddMeshDiscovery_registers_the_Dns_and_Etcd_providers_once()
    {
        using var sp = Build([], s => s.AddMeshDiscovery().AddMeshDiscovery());

        Assert.Equal(["Dns", "Etcd"], sp.GetServices<IMeshDiscoveryProvider>().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Defaults_apply_when_nothing_is_configured()
    {
        using var sp = Build([], s => s.AddMeshDiscovery());
        var options = sp.GetRequiredService<IOptions<MeshDiscoveryOptions>>().Value;

        Assert.Null(options.Dns.Server);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Dns.MinRefreshInterval);
        Assert.Equal(TimeSpan.FromMinutes(5), options.Dns.MaxRefreshInterval);
        Assert.Equal("/mesh/services/", options.Etcd.Prefix);
    }

    [Fact]
    public void Keys_are_bound_from_Mesh_Discovery_and_code_configuration_comes_after()
    {
        using var sp = Build(new()
        {
            ["Mesh:Discovery:Dns:Server"] = "127.0.0.1:5353",
            ["Mesh:Discovery:Dns:MaxRefreshInterval"] = "00:01:00",
            ["Mesh:Discovery:Etcd:Endpoints"] = "http://127.0.0.1:2379,http://127.0.0.1:22379",
            ["Mesh:Discovery:Etcd:Prefix"] = "/registry/",
        }, s => s.AddMeshDiscovery(o => o.Etcd.Prefix = "/override/"));
        var options = sp.GetRequiredService<IOptions<MeshDiscoveryOptions>>().Value;

        Assert.Equal("127.0.0.1:5353", options.Dns.Server);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Dns.MaxRefreshInterval);
        Assert.Equal("http://127.0.0.1:2379,http://127.0.0.1:22379", options.Etcd.Endpoints);
        Assert.Equal("/override/", options.Etcd.Prefix);
    }

    [Theory]
    [InlineData("Mesh:Discovery:Dns:Server", "not a server:x", "Mesh:Discovery:Dns:Server: 'not a server:x' is not host:port")]
    [InlineData("Mesh:Discovery:Dns:MinRefreshInterval", "soon", "Mesh:Discovery:Dns:MinRefreshInterval: 'soon' is not a time span")]
    [InlineData("Mesh:Discovery:Dns:MaxRefreshInterval", "00:00:00.010", "Mesh:Discovery:Dns:MaxRefreshInterval: 00:00:00.0100000 is out of range")]
    [InlineData("Mesh:Discovery:Etcd:Endpoints", "127.0.0.1:2379", "Mesh:Discovery:Etcd:Endpoints: '127.0.0.1:2379' is not an etcd client URL")]
    [InlineData("Mesh:Discovery:Etcd:Prefix", "/mesh", "Mesh:Discovery:Etcd:Prefix: '/mesh' must be non-empty and end with '/'")]
    public void Invalid_settings_fail_with_a_message_naming_the_key(string key, string value, string message)
    {
        using var sp = Build(new() { [key] = value }, s => s.AddMeshDiscovery());

        Assert.Contains(message, ValidationMessage(() => _ = sp.GetRequiredService<IOptions<MeshDiscoveryOptions>>().Value), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Name", null, "Mesh:Services:catalog:Dns:Name: required by Dns discovery")]
    [InlineData("Name", "bad name!", "Mesh:Services:catalog:Dns:Name: 'bad name!' is not a DNS name")]
    [InlineData("Port", "70000", "Mesh:Services:catalog:Dns:Port: '70000' is not a port")]
    [InlineData("Scheme", "ftp", "Mesh:Services:catalog:Dns:Scheme: 'ftp' is not allowed; allowed: http (default), https.")]
    public void Per_service_dns_keys_are_validated_on_start(string key, string? value, string message)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:Discovery"] = "Dns",
            ["Mesh:Services:catalog:Dns:Name"] = "_http._tcp.catalog.mesh.test",
        };
        settings[$"Mesh:Services:catalog:Dns:{key}"] = value;
        using var sp = Build(settings, s => s.AddMeshClient().AddMeshDiscovery());

        Assert.Contains(message, ValidationMessage(() => sp.GetRequiredService<MeshMonitor>()), StringComparison.Ordinal);
    }

    [Fact]
    public void A_service_using_etcd_without_etcd_endpoints_fails_on_start_naming_both_keys()
    {
        using var sp = Build(new() { ["Mesh:Services:payments:Discovery"] = "Etcd" }, s => s.AddMeshClient().AddMeshDiscovery());

        Assert.Contains("Mesh:Discovery:Etcd:Endpoints: required, because Mesh:Services:payments:Discovery names Etcd",
            ValidationMessage(() => sp.GetRequiredService<MeshMonitor>()), StringComparison.Ordinal);
    }

    [Fact]
    public void Without_AddMeshDiscovery_the_mesh_says_which_call_registers_the_provider()
    {
        using var sp = Build(new()
        {
            ["Mesh:Services:catalog:Discovery"] = "Dns",
            ["Mesh:Services:catalog:Dns:Name"] = "_http._tcp.catalog.mesh.test",
        }, s => s.AddMeshClient());

        var error = Assert.ThrowsAny<Exception>(() => sp.GetRequiredService<MeshMonitor>());
        Assert.Contains("services.AddMeshDiscovery()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registration_is_bound_from_Mesh_Registration_with_defaults()
    {
        using var sp = Build(new()
        {
            ["Mesh:Discovery:Etcd:Endpoints"] = "http://127.0.0.1:2379",
            ["Mesh:Registration:Service"] = "Payments",
            ["Mesh:Registration:Address"] = "http://10.0.0.5:8080/",
            ["Mesh:Registration:Zone"] = "eu-1a",
            ["Mesh:Registration:Metadata:version"] = "v2",
        }, s => s.AddMeshRegistration());
        var options = sp.GetRequiredService<IOptions<MeshRegistrationOptions>>().Value;
        var service = sp.GetRequiredService<MeshRegistrationService>();

        Assert.Equal(TimeSpan.FromSeconds(10), options.LeaseTtl);
        Assert.Equal(1, options.Weight);
        Assert.Equal("v2", options.Metadata["version"]);
        Assert.StartsWith("/mesh/services/payments/", service.Key, StringComparison.Ordinal);
        Assert.Equal(service.InstanceId, service.Key["/mesh/services/payments/".Length..]);
        Assert.Equal("http://10.0.0.5:8080", service.Address);
        Assert.Equal(10, service.TtlSeconds);
        Assert.Single(sp.GetServices<IHostedService>());
    }

    [Theory]
    [InlineData("Service", null, "Mesh:Registration:Service: required")]
    [InlineData("Address", "10.0.0.5:8080", "Mesh:Registration:Address:")]
    [InlineData("Address", "http://10.0.0.5:8080/api", "Mesh:Registration:Address: 'http://10.0.0.5:8080/api' has a path")]
    [InlineData("Weight", "0", "Mesh:Registration:Weight: 0 is out of range; allowed: 1 to 1000000.")]
    [InlineData("Weight", "heavy", "Mesh:Registration:Weight: 'heavy' is not an integer")]
    [InlineData("LeaseTtl", "00:00:01", "Mesh:Registration:LeaseTtl: 00:00:01 is out of range; allowed: 00:00:02 to 01:00:00.")]
    [InlineData("InstanceId", "a/b", "Mesh:Registration:InstanceId: 'a/b' must be non-empty and contain no '/'")]
    public void Invalid_registration_settings_fail_on_start_naming_the_key(string key, string? value, string message)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Etcd:Endpoints"] = "http://127.0.0.1:2379",
            ["Mesh:Registration:Service"] = "payments",
            ["Mesh:Registration:Address"] = "http://10.0.0.5:8080",
        };
        settings[$"Mesh:Registration:{key}"] = value;
        using var sp = Build(settings, s => s.AddMeshRegistration());

        Assert.Contains(message, ValidationMessage(() => _ = sp.GetRequiredService<IOptions<MeshRegistrationOptions>>().Value), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registration_without_etcd_endpoints_stops_the_host_from_starting()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Registration:Service"] = "payments",
            ["Mesh:Registration:Address"] = "http://10.0.0.5:8080",
        });
        builder.Services.AddMeshRegistration();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("Mesh:Discovery:Etcd:Endpoints: required by Mesh:Registration", error.Message, StringComparison.Ordinal);
    }
}
