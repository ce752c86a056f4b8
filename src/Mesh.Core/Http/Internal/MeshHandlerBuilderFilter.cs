using Mesh.Services.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Mesh.Http.Internal;

/// <summary>
/// Places the mesh in the handler chain of every client registered with <c>AddMeshHandler()</c>, after all of the
/// client's own configuration ran, so the order of the calls cannot matter: the mesh handler is appended innermost
/// (after every handler the app or a resilience package added), the mesh transport becomes the primary handler, and,
/// when the client has handlers of its own, a small scope handler goes first (outermost), giving each request the scope
/// its retries and hedges share.
/// IHttpClientFactory's logging filter, registered earlier, wraps this one: its per-attempt logger still sits inside
/// the mesh and logs each attempt's real endpoint.
/// </summary>
internal sealed class MeshHandlerBuilderFilter(IOptions<MeshHandlerRegistrations> registrations) : IHttpMessageHandlerBuilderFilter
{
    public Action<HttpMessageHandlerBuilder> Configure(Action<HttpMessageHandlerBuilder> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return builder =>
        {
            next(builder);
            if (builder.Name is not { } name || !registrations.Value.TryGetPinnedService(name, out var pinned))
            {
                return;
            }

            var services = builder.Services;
            if (builder.AdditionalHandlers.Count > 0)
            {
                // Something may resend or clone the request (a resilience handler, the app's own): the scope must exist
                // before it takes a snapshot. A client with no handler of its own cannot resend; its requests make a
                // scope only when an attempt fails (see MeshHttpHandler).
                builder.AdditionalHandlers.Insert(0, new MeshRequestScopeHandler(registrations.Value.HedgingFlag(name)));
            }

            builder.AdditionalHandlers.Add(new MeshHttpHandler(services.GetRequiredService<MeshRegistry>(), pinned));
            builder.PrimaryHandler = new MeshTransportHandler(services.GetRequiredService<MeshTransport>());
        };
    }
}

/// <summary>The HttpClients behind the mesh (and the service each pins; null: the request's host), by client name and
/// by resilience pipeline name (<c>{client}-{name}</c>, for <c>AddResilienceHandler(...).AddMeshHandler()</c>).</summary>
internal sealed class MeshHandlerRegistrations
{
    public Dictionary<string, string?> Clients { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string?> Pipelines { get; } = new(StringComparer.Ordinal);

    /// <summary>The clients known to hedge when they are registered (<c>AddMeshHedging()</c>, or <c>AddMeshHandler()</c>
    /// on the standard hedging handler's builder).</summary>
    public HashSet<string> HedgingClients { get; } = new(StringComparer.Ordinal);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Resilience.Internal.ClientHedgingFlag> _hedging = new(StringComparer.Ordinal);

    /// <summary>The hedging flag of <paramref name="client"/>, the same for every handler chain the factory builds for it.</summary>
    public Resilience.Internal.ClientHedgingFlag HedgingFlag(string client) =>
        _hedging.GetOrAdd(client, static (name, known) => new Resilience.Internal.ClientHedgingFlag(known.Contains(name)), HedgingClients);

    /// <summary>Whether <paramref name="client"/> is behind the mesh, and the service it pins.</summary>
    public bool TryGetPinnedService(string client, out string? pinned)
    {
        if (Clients.TryGetValue(client, out pinned))
        {
            return true;
        }

        foreach (var (pipeline, service) in Pipelines)
        {
            // The pipeline belongs to the longest client name it starts with ("{client}-{name}").
            if (pipeline.StartsWith(client + "-", StringComparison.Ordinal) &&
                !Clients.Keys.Any(other => other.Length > client.Length && pipeline.StartsWith(other + "-", StringComparison.Ordinal)))
            {
                pinned = service;
                return true;
            }
        }

        pinned = null;
        return false;
    }
}
