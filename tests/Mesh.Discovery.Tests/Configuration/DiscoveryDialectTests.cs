using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Tests.Configuration;

/// <summary>
/// Mesh.Discovery reads configuration in the same dialect as Mesh.Core: time spans never as bare numbers, every bad key
/// reported at once, messages naming the section that was bound, and defaults that follow a single setting.
/// A fresh host per scenario, configured from an appsettings.json file, public API only.
/// </summary>
public sealed class DiscoveryDialectTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mesh-discovery-config-").FullName;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private HostApplicationBuilder NewApp(string json)
    {
        var path = Path.Combine(_directory, "appsettings.json");
        File.WriteAllText(path, json);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddJsonFile(path);
        return builder;
    }

    private static async Task<IReadOnlyList<string>> StartFailuresAsync(IHost host)
    {
        var error = await Record.ExceptionAsync(() => host.StartAsync(Token));
        return error switch
        {
            OptionsValidationException validation => [.. validation.Failures],
            AggregateException aggregate when aggregate.InnerExceptions.All(e => e is OptionsValidationException) =>
                [.. aggregate.InnerExceptions.SelectMany(e => ((OptionsValidationException)e).Failures)],
            null => throw Xunit.Sdk.FailException.ForFailure("The host started, but the configuration is invalid."),
            _ => throw Xunit.Sdk.FailException.ForFailure($"The host failed with {error.GetType().Name} instead of a validation error: {error}"),
        };
    }

    [Fact]
    public async Task Bare_numbers_as_time_spans_are_refused_and_every_bad_key_is_named_at_once()
    {
        var builder = NewApp("""
            { "Mesh": {
                "Discovery": { "Dns": { "MinRefreshInterval": "5", "QueryTimeout": "2" }, "Etcd": { "Endpoints": "http://127.0.0.1:2379", "RequestTimeout": "1" } },
                "Registration": { "Service": "payments", "Address": "http://127.0.0.1:7001", "LeaseTtl": "10", "Weight": "heavy" } } }
            """);
        builder.Services.AddMeshDiscovery().AddMeshRegistration();
        using var host = builder.Build();

        var failures = await StartFailuresAsync(host);

        string[] expected =
        [
            "Mesh:Discovery:Dns:MinRefreshInterval: '5' is not a time span",
            "Mesh:Discovery:Dns:QueryTimeout: '2' is not a time span",
            "Mesh:Discovery:Etcd:RequestTimeout: '1' is not a time span",
            "Mesh:Registration:LeaseTtl: '10' is not a time span",
            "Mesh:Registration:Weight: 'heavy' is not an integer",
        ];
        foreach (var key in expected)
        {
            Assert.Contains(failures, f => f.StartsWith(key, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Discovery_and_registration_keys_under_a_custom_mesh_section_are_read_and_named_there()
    {
        var builder = NewApp("""
            { "Platform": { "Mesh": {
                "Discovery": { "Dns": { "Server": "not a server:x" }, "Etcd": { "Endpoints": "http://127.0.0.1:2379", "Prefix": "/mesh" } },
                "Registration": { "Service": "payments", "Address": "http://127.0.0.1:7001", "Weight": 0 },
                "Services": {
                  "catalog": { "Discovery": "Dns", "Dns": { "Port": "70000" } },
                  "payments": { "Discovery": "Etcd" } } } } }
            """);
        builder.Services.AddMeshClient(builder.Configuration.GetSection("Platform:Mesh"));
        builder.Services.AddMeshDiscovery().AddMeshRegistration();
        using var host = builder.Build();

        var failures = await StartFailuresAsync(host);

        Assert.All(failures, f => Assert.StartsWith("Platform:Mesh:", f, StringComparison.Ordinal));
        string[] expected =
        [
            "Platform:Mesh:Discovery:Dns:Server: 'not a server:x' is not host:port",
            "Platform:Mesh:Discovery:Etcd:Prefix: '/mesh' must be non-empty and end with '/'",
            "Platform:Mesh:Registration:Weight: 0",
            "Platform:Mesh:Services:catalog:Dns:Name: required by Dns discovery",
            "Platform:Mesh:Services:catalog:Dns:Port: '70000' is not a port",
        ];
        foreach (var key in expected)
        {
            Assert.Contains(failures, f => f.StartsWith(key, StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("Dns", "MaxRefreshInterval", "00:00:00.500")]
    [InlineData("Dns", "MinRefreshInterval", "00:10:00")]
    [InlineData("Dns", "RetryBaseDelay", "00:01:00")]
    [InlineData("Dns", "RetryMaxDelay", "00:00:00.500")]
    [InlineData("Etcd", "RetryBaseDelay", "00:00:20")]
    [InlineData("Etcd", "RetryMaxDelay", "00:00:00.100")]
    public async Task A_delay_set_alone_starts_and_the_default_of_its_partner_follows_it(string provider, string key, string value)
    {
        var builder = NewApp($$"""
            { "Mesh": { "Discovery": { "{{provider}}": { "{{key}}": "{{value}}" }, "Etcd": { "Endpoints": "http://127.0.0.1:2379" } } } }
            """);
        builder.Services.AddMeshDiscovery();
        using var host = builder.Build();

        await host.StartAsync(Token);

        var options = host.Services.GetRequiredService<IOptions<MeshDiscoveryOptions>>().Value;
        var (min, max) = (provider, key) switch
        {
            ("Dns", "MaxRefreshInterval" or "MinRefreshInterval") => (options.Dns.MinRefreshInterval, options.Dns.MaxRefreshInterval),
            ("Dns", _) => (options.Dns.RetryBaseDelay, options.Dns.RetryMaxDelay),
            _ => (options.Etcd.RetryBaseDelay, options.Etcd.RetryMaxDelay),
        };
        Assert.True(min <= max, $"{min} > {max}");
        Assert.Contains(TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture), new[] { min, max });
        await host.StopAsync(Token);
    }
}
