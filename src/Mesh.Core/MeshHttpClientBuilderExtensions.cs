using Mesh.Http.Internal;
using Mesh.Resilience.Internal;
using Mesh.Services.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Http.Resilience;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Puts an HttpClient (typed, named or gRPC) behind the mesh. Whatever the order of the calls, the mesh handler ends up
/// the innermost handler of the client (just before the connection pool) and supplies the primary handler, so every
/// outer handler — the standard resilience or hedging handler, your own — sees the logical request
/// (<c>http://catalog/...</c>) and each attempt it sends is balanced anew by the mesh.
/// </summary>
public static class MeshHttpClientBuilderExtensions
{
    private const string StandardPipelineSuffix = "-standard";

    /// <summary>
    /// Routes the client's requests through the mesh: the request host (the client's <c>BaseAddress</c>, for example
    /// <c>http://catalog</c>) names the service; each attempt goes to an endpoint chosen by the service's balancer,
    /// with health tracking and failover. The mesh handler is placed innermost whatever the order of the calls, so a
    /// resilience handler added before or after this call retries through the mesh, each retry balanced anew. The mesh
    /// also supplies the client's primary handler (its shared connection pool).
    /// </summary>
    /// <param name="builder">The HttpClient builder.</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddMeshHandler(this IHttpClientBuilder builder) => builder.AddMeshHandler(serviceName: null);

    /// <summary>Routes the client's requests to one mesh service, whatever their host (see <see cref="AddMeshHandler(IHttpClientBuilder)"/>).</summary>
    /// <param name="builder">The HttpClient builder.</param>
    /// <param name="serviceName">The service every request goes to; <see langword="null"/> to use each request's host.</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddMeshHandler(this IHttpClientBuilder builder, string? serviceName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Register(builder.Services, builder.Name, serviceName);
        return builder;
    }

    /// <summary>
    /// Routes the client of this standard resilience pipeline through the mesh, so that
    /// <c>.AddStandardResilienceHandler().AddMeshHandler()</c> reads as it works: the resilience handler outside, the
    /// mesh innermost, every retry balanced anew and kept off the endpoints already tried.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddStandardResilienceHandler()</c>.</param>
    /// <param name="serviceName">The service every request goes to; <see langword="null"/> to use each request's host.</param>
    /// <returns>The builder, to go on configuring the pipeline.</returns>
    public static IHttpStandardResiliencePipelineBuilder AddMeshHandler(this IHttpStandardResiliencePipelineBuilder builder, string? serviceName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var pipeline = builder.PipelineName;
        if (!pipeline.EndsWith(StandardPipelineSuffix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The standard resilience pipeline '{pipeline}' does not name its HttpClient; call AddMeshHandler() on the client's builder instead.");
        }

        Register(builder.Services, pipeline[..^StandardPipelineSuffix.Length], serviceName);
        return builder;
    }

    /// <summary>
    /// Routes the client of this standard hedging handler through the mesh:
    /// <c>.AddStandardHedgingHandler().AddMeshHandler()</c> puts the hedging outside and the mesh innermost, so each
    /// hedged attempt is balanced by the mesh.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddStandardHedgingHandler()</c>.</param>
    /// <param name="serviceName">The service every request goes to; <see langword="null"/> to use each request's host.</param>
    /// <returns>The builder, to go on configuring hedging.</returns>
    public static IStandardHedgingHandlerBuilder AddMeshHandler(this IStandardHedgingHandlerBuilder builder, string? serviceName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Register(builder.Services, builder.Name, serviceName, hedging: true);
        return builder;
    }

    /// <summary>
    /// Mesh-aware hedging on top of the standard hedging handler: routes the client through the mesh (as
    /// <see cref="AddMeshHandler(IStandardHedgingHandlerBuilder, string?)"/>) and replaces the handler's fixed delay
    /// (2 s by default) by one taken from the mesh's own latency knowledge of the service: the
    /// <c>Mesh:Services:{name}:Hedging:DelayPercentile</c>th percentile (95th by default) of its recent attempts,
    /// within <c>Hedging:MinDelay</c> and <c>Hedging:MaxDelay</c>. Every hedged attempt goes to an endpoint no other
    /// attempt of the request is using or has used, and is charged to the service's hedge budget
    /// (<c>Hedging:BudgetRatio</c>, 5% of requests by default); when the budget is spent no hedge is sent (a hedge is
    /// then only sent after a failure, like a retry) and <c>mesh.client.hedges</c> counts the refusal.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddStandardHedgingHandler()</c>.</param>
    /// <param name="serviceName">The service every request goes to; <see langword="null"/> to use each request's host.</param>
    /// <returns>The builder, to go on configuring hedging (for example <c>MaxHedgedAttempts</c>).</returns>
    public static IStandardHedgingHandlerBuilder AddMeshHedging(this IStandardHedgingHandlerBuilder builder, string? serviceName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddMeshHandler(serviceName);
        var pinned = Pin(serviceName);
        builder.Services.AddOptions<HttpStandardHedgingResilienceOptions>(builder.Name)
            .Configure<IServiceProvider>((options, services) =>
                options.Hedging.DelayGenerator = MeshHedgingDelay.Create(services.GetRequiredService<MeshRegistry>(), pinned));
        return builder;
    }

    /// <summary>
    /// Adds the standard hedging handler with mesh-aware hedging in one call: <c>AddStandardHedgingHandler().AddMeshHedging()</c>
    /// (see <see cref="AddMeshHedging(IStandardHedgingHandlerBuilder, string?)"/>).
    /// </summary>
    /// <param name="builder">The HttpClient builder.</param>
    /// <param name="serviceName">The service every request goes to; <see langword="null"/> to use each request's host.</param>
    /// <returns>The hedging handler's builder.</returns>
    public static IStandardHedgingHandlerBuilder AddMeshHedging(this IHttpClientBuilder builder, string? serviceName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddStandardHedgingHandler().AddMeshHedging(serviceName);
    }

    /// <summary>
    /// Routes the client of this custom resilience pipeline (<c>AddResilienceHandler("name", ...)</c>) through the
    /// mesh, innermost. The pipeline's name is <c>{client}-{name}</c>; the client is the registered HttpClient whose
    /// name is the longest prefix of it.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResilienceHandler(...)</c>.</param>
    /// <param name="serviceName">The service every request goes to; <see langword="null"/> to use each request's host.</param>
    /// <returns>The builder.</returns>
    public static IHttpResiliencePipelineBuilder AddMeshHandler(this IHttpResiliencePipelineBuilder builder, string? serviceName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        MeshServiceCollectionExtensions.AddMeshCore(builder.Services);
        AddFilter(builder.Services);
        var pipeline = builder.PipelineName;
        var pinned = Pin(serviceName);
        builder.Services.Configure<MeshHandlerRegistrations>(r => r.Pipelines[pipeline] = pinned);
        return builder;
    }

    private static void Register(IServiceCollection services, string clientName, string? serviceName, bool hedging = false)
    {
        MeshServiceCollectionExtensions.AddMeshCore(services);
        AddFilter(services);
        var pinned = Pin(serviceName);
        services.Configure<MeshHandlerRegistrations>(r =>
        {
            r.Clients[clientName] = pinned;
            if (hedging)
            {
                r.HedgingClients.Add(clientName);
            }
        });
    }

    private static string? Pin(string? serviceName) => string.IsNullOrWhiteSpace(serviceName) ? null : serviceName.Trim().ToLowerInvariant();

    private static void AddFilter(IServiceCollection services) =>
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHttpMessageHandlerBuilderFilter, MeshHandlerBuilderFilter>());
}
