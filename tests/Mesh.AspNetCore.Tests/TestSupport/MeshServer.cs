using System.Net;
using Mesh.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.AspNetCore.Tests.TestSupport;

/// <summary>A fresh ASP.NET Core app per scenario (<c>WebApplication.CreateBuilder</c>), listening on 127.0.0.1 with a
/// dynamic port over <c>UseMeshIdentity</c> (and, on request, a second plain-http listener), its logs captured.</summary>
internal sealed class MeshServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MeshServer(WebApplication app)
    {
        _app = app;
        Logs = app.Services.GetFakeLogCollector();
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses
            .Select(a => new Uri(a.Replace("[::]", "127.0.0.1", StringComparison.Ordinal))).ToList();
        Address = addresses.Single(a => a.Scheme == Uri.UriSchemeHttps);
        PlainAddress = addresses.SingleOrDefault(a => a.Scheme == Uri.UriSchemeHttp);
    }

    /// <summary>The mesh mTLS listener.</summary>
    public Uri Address { get; }

    /// <summary>The plain-http listener, when one was asked for.</summary>
    public Uri? PlainAddress { get; }

    public FakeLogCollector Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <param name="identity">The server's identity (registered with <c>AddMeshIdentity</c>).</param>
    /// <param name="authorizedClients">The listener's <c>AuthorizedClients</c>.</param>
    /// <param name="configureServices">Authentication, authorization and anything else the scenario registers.</param>
    /// <param name="mapEndpoints">The scenario's endpoints.</param>
    /// <param name="plainListener">Also listen on plain http (no mesh identity), as a health port would.</param>
    /// <param name="configureListener">More settings of the mesh listener's options.</param>
    public static async Task<MeshServer> StartAsync(
        IMeshIdentitySource identity,
        string[] authorizedClients,
        Action<WebApplicationBuilder> configureServices,
        Action<WebApplication> mapEndpoints,
        bool plainListener = false,
        Action<MeshServerIdentityOptions>? configureListener = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddFakeLogging();
        builder.Services.AddMeshIdentity(identity);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseMeshIdentity(options =>
                {
                    foreach (var pattern in authorizedClients)
                    {
                        options.AuthorizedClients.Add(SpiffeIdPattern.Parse(pattern));
                    }

                    configureListener?.Invoke(options);
                });
            });
            if (plainListener)
            {
                kestrel.Listen(IPAddress.Loopback, 0);
            }
        });
        configureServices(builder);
        var app = builder.Build();
        mapEndpoints(app);
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new MeshServer(app);
    }

    /// <summary>Waits (bounded: 5 s) for a log event the server writes while refusing a connection (the client may see the
    /// connection close before the log line is written) and returns it.</summary>
    public async Task<FakeLogRecord> WaitForLogAsync(string eventName)
    {
        for (var i = 0; i < 250; i++)
        {
            if (Logs.GetSnapshot().FirstOrDefault(r => r.Id.Name == eventName) is { } record)
            {
                return record;
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        throw new TimeoutException($"The server logged no {eventName} event within 5 seconds.");
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
