using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Containers.Tests.Configuration;

/// <summary>
/// The per-service Docker keys (<c>{mesh}:Services:{name}:Docker</c>) are read in the dialect of every Mesh package:
/// validated when the host starts (before any engine is contacted), enums by name only, every bad key at once, each named
/// under the section the mesh was bound to.
/// </summary>
public sealed class DockerDiscoveryConfigurationTests
{
    [Fact]
    public async Task Bad_per_service_keys_stop_the_host_naming_each_key_under_the_bound_section()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Platform:Mesh:Services:web:Discovery"] = "Docker",
            ["Platform:Mesh:Services:web:Docker:AddressMode"] = "1",
            ["Platform:Mesh:Services:web:Docker:Port"] = "70000",
            ["Platform:Mesh:Services:web:Docker:Scheme"] = "ftp",
            ["Platform:Mesh:Services:api:Discovery"] = "Configuration",
            ["Platform:Mesh:Services:api:Endpoints:0"] = "http://127.0.0.1:5001",
            ["Platform:Mesh:Services:api:Docker:AddressMode"] = "2",
        });
        builder.Services.AddMeshClient(builder.Configuration.GetSection("Platform:Mesh"));
        builder.Services.AddMeshDockerDiscovery();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Equal(3, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.StartsWith("Platform:Mesh:Services:web:Docker:AddressMode: '1' is not valid; allowed values: PublishedPort, ContainerAddress.", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Platform:Mesh:Services:web:Docker:Port: '70000' is not a port", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Platform:Mesh:Services:web:Docker:Scheme: 'ftp' is not allowed", StringComparison.Ordinal));
    }
}
