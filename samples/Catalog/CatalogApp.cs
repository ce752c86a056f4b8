using Catalog.Grpc;
using Grpc.Core;
using Mesh;
using Mesh.Identity;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Catalog;

/// <summary>
/// The Catalog service as a team would write it: REST (<c>GET /items</c>) and gRPC (<c>CatalogService</c>) on one
/// HTTPS port that presents the workload's SVID and accepts only callers whose SPIFFE ID is authorized
/// (<c>Catalog:AuthorizedClients</c>). With <c>Mesh:Registration</c> configured it registers itself in etcd.
/// </summary>
public static class CatalogApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        var config = builder.Configuration;

        // mTLS: the SVID from Mesh:Identity (PEM files, reloaded on rotation), callers authorized by SPIFFE ID.
        builder.Services.AddMeshIdentity(config.GetSection("Mesh:Identity"));
        var port = config.GetValue("Catalog:Port", 5001);
        builder.WebHost.ConfigureKestrel((context, kestrel) => kestrel.Listen(System.Net.IPAddress.Loopback, port, listen =>
        {
            listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1AndHttp2;
            listen.UseMeshIdentity(options =>
            {
                options.IdentitySource = kestrel.ApplicationServices.GetRequiredService<IMeshIdentitySource>();
                foreach (var pattern in context.Configuration.GetSection("Catalog:AuthorizedClients").Get<string[]>() ?? ["spiffe://mesh.test/storefront"])
                {
                    options.AuthorizedClients.Add(SpiffeIdPattern.Parse(pattern));
                }
            });
        }));

        // Self-registration in etcd when configured (Mesh:Registration + Mesh:Discovery:Etcd).
        if (config.GetSection("Mesh:Registration").Exists())
        {
            builder.Services.AddMeshDiscovery();
            builder.Services.AddMeshRegistration();
        }

        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new ReplicaName(config["Catalog:Name"] ?? Environment.MachineName));
        if (config.GetValue("Telemetry:Console", false))
        {
            builder.Services.AddOpenTelemetry()
                .WithTracing(t => t.AddSource("Microsoft.AspNetCore").AddConsoleExporter())
                .WithMetrics(m => m.AddMeter("Microsoft.AspNetCore.Hosting").AddConsoleExporter());
        }

        var app = builder.Build();
        app.MapGet("/healthz", () => "healthy");
        app.MapGet("/items", (HttpContext context, ReplicaName name) => Results.Json(new
        {
            ServedBy = name.Value,
            Caller = context.GetPeerSpiffeId()?.ToString(),
            Items = Inventory.Items,
        }));
        app.MapGrpcService<CatalogGrpcService>();
        return app;
    }
}

/// <summary>The name this replica answers with.</summary>
public sealed record ReplicaName(string Value);

/// <summary>The catalog's data.</summary>
public static class Inventory
{
    public static readonly IReadOnlyList<Item> Items =
    [
        new() { Id = 1, Name = "kettle", Price = 24.5 },
        new() { Id = 2, Name = "teapot", Price = 18 },
        new() { Id = 3, Name = "mug", Price = 6.25 },
    ];
}

/// <summary>The gRPC face of the catalog.</summary>
public sealed class CatalogGrpcService(ReplicaName name) : CatalogService.CatalogServiceBase
{
    public override Task<Item> GetItem(GetItemRequest request, ServerCallContext context)
    {
        var item = Inventory.Items.FirstOrDefault(i => i.Id == request.Id)
            ?? throw new RpcException(new global::Grpc.Core.Status(global::Grpc.Core.StatusCode.NotFound, $"no item {request.Id}"));
        var reply = item.Clone();
        reply.ServedBy = name.Value;
        return Task.FromResult(reply);
    }
}
