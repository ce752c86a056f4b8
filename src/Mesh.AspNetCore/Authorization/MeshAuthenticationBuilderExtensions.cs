using Mesh.Authorization.Internal;
using Mesh.Identity.Internal;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Mesh.Authorization;

/// <summary>Registers the mesh authentication scheme.</summary>
public static class MeshAuthenticationBuilderExtensions
{
    /// <summary>
    /// Adds the mesh scheme (<see cref="MeshAuthenticationDefaults.AuthenticationScheme"/>): on a connection accepted by a
    /// <c>UseMeshIdentity</c> endpoint, the caller's SPIFFE ID — already proven by its X.509-SVID at the handshake — becomes
    /// the request's authenticated principal (claims <see cref="MeshClaimTypes.SpiffeId"/>, <see cref="MeshClaimTypes.TrustDomain"/>,
    /// <c>NameIdentifier</c> and <c>Name</c>), until the caller's certificate expires, however long the connection stays
    /// open. Requests on other connections are not authenticated by it. Authorization with
    /// <see cref="MeshEndpointConventionBuilderExtensions.RequireSpiffeId{TBuilder}(TBuilder, string[])"/>, policies with
    /// <see cref="MeshAuthorizationPolicyBuilderExtensions.RequireSpiffeId(Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder, string[])"/>
    /// or <see cref="AuthorizeSpiffeIdAttribute"/> then answers 403 to an authenticated caller that lacks the permission and
    /// 401 to a request without a (still valid) mesh identity, each logged (category
    /// <see cref="MeshAuthenticationDefaults.LoggerCategory"/>) and counted (<c>mesh.server.authorization.denials</c>).
    /// </summary>
    /// <param name="builder">The result of <c>services.AddAuthentication(...)</c>; make the mesh scheme the default with
    /// <c>AddAuthentication(MeshAuthenticationDefaults.AuthenticationScheme)</c> so that plain <c>RequireAuthorization()</c>
    /// and <c>[Authorize]</c> use it too.</param>
    /// <param name="configure">Optional scheme options (for example a <see cref="AuthenticationSchemeOptions.TimeProvider"/>).</param>
    /// <returns>The same builder.</returns>
    public static AuthenticationBuilder AddMesh(this AuthenticationBuilder builder, Action<AuthenticationSchemeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(static sp => MeshServerMetrics.For(sp));
        return builder.AddScheme<AuthenticationSchemeOptions, MeshAuthenticationHandler>(MeshAuthenticationDefaults.AuthenticationScheme, configure);
    }
}
