using Catalog.Grpc;
using Microsoft.Extensions.Http.Resilience;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Storefront;

/// <summary>
/// The Storefront service as a team would write it: a typed HttpClient and a gRPC client for <c>http://catalog</c>,
/// both behind <c>AddMeshHandler()</c> — so Catalog is resolved (configuration or etcd), balanced, health-tracked and
/// reached over mTLS with SPIFFE identities — and telemetry with one line per signal.
/// </summary>
public static class StorefrontApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);

        builder.Services.AddMeshClient();        // Mesh:Services:catalog and Mesh:Identity
        builder.Services.AddMeshDiscovery();     // lets Mesh:Services:catalog:Discovery be "Etcd" or "Dns"
        builder.Services.AddHealthChecks().AddMeshHealthCheck();

        builder.Services.AddHttpClient<CatalogHttpClient>(c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(50))
            .AddMeshHandler();
        builder.Services.AddGrpcClient<CatalogService.CatalogServiceClient>(o => o.Address = new Uri("http://catalog")).AddMeshHandler();

        var telemetry = builder.Configuration.GetSection("Telemetry");
        if (telemetry.GetValue("Console", false))
        {
            builder.Services.AddOpenTelemetry()
                .WithTracing(t => t.AddMeshInstrumentation().AddSource("System.Net.Http").AddConsoleExporter())
                .WithMetrics(m => m.AddMeshInstrumentation().AddConsoleExporter());
        }
        else if (telemetry["OtlpEndpoint"] is { Length: > 0 } otlp)
        {
            builder.Services.AddOpenTelemetry()
                .WithTracing(t => t.AddMeshInstrumentation().AddSource("System.Net.Http").AddOtlpExporter(o => o.Endpoint = new Uri(otlp)))
                .WithMetrics(m => m.AddMeshInstrumentation().AddOtlpExporter(o => o.Endpoint = new Uri(otlp)));
        }

        var app = builder.Build();
        app.MapHealthChecks("/healthz");
        app.MapGet("/", async (CatalogHttpClient http, CatalogService.CatalogServiceClient grpc, CancellationToken cancellationToken) =>
        {
            var page = await http.GetItemsAsync(cancellationToken);
            var featured = await grpc.GetItemAsync(new GetItemRequest { Id = 2 }, cancellationToken: cancellationToken);
            return Results.Json(new StorefrontPage(page.Items, page.ServedBy, page.Caller, featured.Name, featured.ServedBy));
        });
        return app;
    }
}

/// <summary>The storefront's page: the catalog via REST and a featured item via gRPC, with who served each.</summary>
public sealed record StorefrontPage(IReadOnlyList<CatalogItem> Items, string ItemsServedBy, string? CatalogSawCaller, string Featured, string FeaturedServedBy);

/// <summary>An item as the REST API returns it.</summary>
public sealed record CatalogItem(int Id, string Name, double Price);

/// <summary>GET /items of the catalog.</summary>
public sealed record CatalogPage(string ServedBy, string? Caller, IReadOnlyList<CatalogItem> Items);

/// <summary>The typed client for Catalog's REST API.</summary>
public sealed class CatalogHttpClient(HttpClient http)
{
    public async Task<CatalogPage> GetItemsAsync(CancellationToken cancellationToken) =>
        await http.GetFromJsonAsync<CatalogPage>("/items", cancellationToken) ?? throw new InvalidOperationException("empty catalog answer");
}
