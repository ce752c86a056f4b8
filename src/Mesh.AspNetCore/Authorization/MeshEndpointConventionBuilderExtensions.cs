using Microsoft.AspNetCore.Builder;

namespace Mesh.Authorization;

/// <summary>Per-endpoint SPIFFE ID authorization for minimal APIs, route groups, controllers, gRPC services and any other
/// endpoint convention builder.</summary>
public static class MeshEndpointConventionBuilderExtensions
{
    /// <summary>Only callers authenticated by the mesh scheme whose SPIFFE ID matches one of <paramref name="patterns"/> may
    /// call these endpoints; others get 403 (or 401 when the request carries no mesh identity). It narrows what the
    /// listener's <c>AuthorizedClients</c> let through the handshake and never widens it.</summary>
    /// <typeparam name="TBuilder">The builder's type.</typeparam>
    /// <param name="builder">The endpoints (<c>app.MapGet(...)</c>, <c>app.MapGroup(...)</c>, <c>app.MapGrpcService&lt;T&gt;()</c>...).</param>
    /// <param name="patterns">Exact IDs, prefixes (<c>.../*</c>) or trust domains (<c>spiffe://mesh.test/*</c>); at least one.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="Mesh.Identity.SpiffeIdFormatException">A pattern is not valid; the message says why.</exception>
    public static TBuilder RequireSpiffeId<TBuilder>(this TBuilder builder, params string[] patterns)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(patterns);
        var requirement = new SpiffeIdAuthorizationRequirement(patterns.Select(Mesh.Identity.SpiffeIdPattern.Parse)); // fails here, not at the first request
        return builder.RequireAuthorization(policy => policy
            .AddAuthenticationSchemes(MeshAuthenticationDefaults.AuthenticationScheme)
            .AddRequirements(requirement));
    }
}
