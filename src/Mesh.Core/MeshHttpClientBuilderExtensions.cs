using Mesh.Http.Internal;
using Mesh.Services.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts an HttpClient (typed, named or gRPC) behind the mesh.</summary>
public static class MeshHttpClientBuilderExtensions
{
    /// <summary>
    /// Routes the client's requests through the mesh: the request host (the client's <c>BaseAddress</c>, for example
    /// <c>http://catalog</c>) names the service; each attempt goes to an endpoint chosen by the service's balancer,
    /// with health tracking and failover. Add resilience handlers (for example <c>AddStandardResilienceHandler()</c>)
    /// before this call, so each retry is balanced anew. The mesh also supplies the client's primary handler (its
    /// shared connection pool).
    /// </summary>
    /// <param name="builder">The HttpClient builder.</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddMeshHandler(this IHttpClientBuilder builder) => builder.AddMeshHandler(serviceName: null);

    /// <summary>Routes the client's requests to one mesh service, whatever their host.</summary>
    /// <param name="builder">The HttpClient builder.</param>
    /// <param name="serviceName">The service every request goes to; <see langword="null"/> to use each request's host.</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddMeshHandler(this IHttpClientBuilder builder, string? serviceName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        MeshServiceCollectionExtensions.AddMeshCore(builder.Services);
        var pinned = string.IsNullOrWhiteSpace(serviceName) ? null : serviceName.Trim().ToLowerInvariant();
        builder.AddHttpMessageHandler(sp => new MeshHttpHandler(sp.GetRequiredService<MeshRegistry>(), pinned));
        builder.ConfigurePrimaryHttpMessageHandler(sp => new MeshTransportHandler(sp.GetRequiredService<MeshTransport>()));
        var name = builder.Name;
        builder.Services.Configure<Mesh.Configuration.Internal.MeshHandlerRegistrations>(r => r.Clients[name] = pinned);
        return builder;
    }
}
