using Mesh.Identity;
using Microsoft.AspNetCore.Authorization;

namespace Mesh.Authorization;

/// <summary>Adds SPIFFE ID requirements to authorization policies.</summary>
public static class MeshAuthorizationPolicyBuilderExtensions
{
    /// <summary>Requires a caller authenticated by the mesh scheme whose SPIFFE ID matches one of <paramref name="patterns"/>;
    /// also adds the mesh scheme to the policy's authentication schemes, so it applies whatever the default scheme is.</summary>
    /// <param name="builder">The policy.</param>
    /// <param name="patterns">Exact IDs (<c>spiffe://mesh.test/orders</c>), prefixes (<c>spiffe://mesh.test/ns/shop/*</c>) or
    /// trust domains (<c>spiffe://mesh.test/*</c>); at least one.</param>
    /// <returns>The same policy builder.</returns>
    /// <exception cref="SpiffeIdFormatException">A pattern is not a valid SPIFFE ID pattern; the message says why.</exception>
    public static AuthorizationPolicyBuilder RequireSpiffeId(this AuthorizationPolicyBuilder builder, params string[] patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        return builder.RequireSpiffeId(patterns.Select(SpiffeIdPattern.Parse));
    }

    /// <summary>Requires a caller authenticated by the mesh scheme whose SPIFFE ID matches one of <paramref name="patterns"/>;
    /// also adds the mesh scheme to the policy's authentication schemes.</summary>
    /// <param name="builder">The policy.</param>
    /// <param name="patterns">The accepted callers; at least one.</param>
    /// <returns>The same policy builder.</returns>
    public static AuthorizationPolicyBuilder RequireSpiffeId(this AuthorizationPolicyBuilder builder, IEnumerable<SpiffeIdPattern> patterns)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var requirement = new SpiffeIdAuthorizationRequirement(patterns);
        if (!builder.AuthenticationSchemes.Contains(MeshAuthenticationDefaults.AuthenticationScheme))
        {
            builder.AddAuthenticationSchemes(MeshAuthenticationDefaults.AuthenticationScheme);
        }

        return builder.AddRequirements(requirement);
    }
}
