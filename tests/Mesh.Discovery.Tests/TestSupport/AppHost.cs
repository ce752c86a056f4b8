using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Discovery.Tests.TestSupport;

/// <summary>
/// An app the way the docs build one: a fresh generic host per scenario, configuration from key/value pairs,
/// AddMeshClient() + AddMeshDiscovery(), and a named HttpClient per service (http://{service}) through
/// AddMeshHandler(). Nothing waits on the mesh's internals: tests start the host and call.
/// </summary>
internal static class AppHost
{
    public static IHost Build(Dictionary<string, string?> settings, FakeLogCollector? logs, params string[] services)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        if (logs is not null)
        {
            builder.Logging.AddProvider(new FakeLoggerProvider(logs)).SetMinimumLevel(LogLevel.Debug);
        }

        builder.Services.AddMeshClient();
        builder.Services.AddMeshDiscovery();
        foreach (var service in services)
        {
            builder.Services.AddHttpClient(service, c => c.BaseAddress = new Uri($"http://{service}")).AddMeshHandler();
        }

        return builder.Build();
    }

    public static HttpClient Client(this IHost host, string service) =>
        host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(service);
}
