using Mesh;
using Yarp.ReverseProxy.Forwarder;

namespace Mesh.Gateway;

/// <summary>
/// The API gateway: the single entry point that routes requests to services. Routing and transforms are YARP's;
/// every destination is a logical service (<c>http://catalog</c>) resolved, balanced, health-checked and (with an
/// identity) secured by the mesh, through <see cref="MeshForwarderHttpClientFactory"/>.
/// </summary>
public static class GatewayApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        builder.Services.AddMeshClient();                                   // the "Mesh" section: services and their endpoints
        builder.Services.AddHealthChecks().AddMeshHealthCheck();
        builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
        builder.Services.AddSingleton<IForwarderHttpClientFactory, MeshForwarderHttpClientFactory>();

        var app = builder.Build();
        app.MapHealthChecks("/healthz");
        app.MapGet("/mesh", (MeshMonitor monitor) => Results.Json(monitor.GetSnapshot().Select(s => new
        {
            s.Name,
            LoadBalancer = s.LoadBalancerName,
            s.PanicMode,
            Endpoints = s.Endpoints.Select(e => new { Address = e.Endpoint.Key, Health = e.Health.ToString(), e.Reason, e.Requests, e.InFlight }),
        })));
        app.MapReverseProxy();
        return app;
    }
}

/// <summary>Gives YARP's forwarder the mesh as its HTTP client: a destination's host names a mesh service.</summary>
public sealed class MeshForwarderHttpClientFactory(MeshHandlerFactory mesh) : IForwarderHttpClientFactory
{
    public HttpMessageInvoker CreateClient(ForwarderHttpClientContext context) =>
        context.OldClient is not null && context.OldConfig == context.NewConfig
            ? context.OldClient
            : new HttpMessageInvoker(mesh.CreateHandler(), disposeHandler: true);
}
