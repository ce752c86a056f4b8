using Mesh.Identity;
using Microsoft.AspNetCore.Authorization;

namespace Mesh.Authorization;

/// <summary>
/// <c>[AuthorizeSpiffeId("spiffe://mesh.test/ops/*")]</c> on a controller, an action or a minimal-API handler: only callers
/// authenticated by the mesh scheme whose SPIFFE ID matches one of the patterns may call it. Several attributes (a
/// controller's and an action's) must all be satisfied, as with every <see cref="AuthorizeAttribute"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true, Inherited = true)]
public sealed class AuthorizeSpiffeIdAttribute : AuthorizeAttribute, IAuthorizationRequirementData
{
    private readonly SpiffeIdAuthorizationRequirement _requirement;

    /// <summary>Creates the attribute.</summary>
    /// <param name="patterns">Exact IDs, prefixes (<c>.../*</c>) or trust domains (<c>spiffe://mesh.test/*</c>); at least one.</param>
    /// <exception cref="SpiffeIdFormatException">A pattern is not valid; the message says why.</exception>
    public AuthorizeSpiffeIdAttribute(params string[] patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        _requirement = new SpiffeIdAuthorizationRequirement(patterns.Select(SpiffeIdPattern.Parse));
        Patterns = patterns;
        AuthenticationSchemes = MeshAuthenticationDefaults.AuthenticationScheme;
    }

    /// <summary>The accepted callers, as written.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <inheritdoc />
    public IEnumerable<IAuthorizationRequirement> GetRequirements()
    {
        yield return _requirement;
    }
}
