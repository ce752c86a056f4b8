using Mesh.Authorization.Internal;
using Mesh.Identity;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace Mesh.Authorization;

/// <summary>
/// Requires that the caller's SPIFFE ID — proven at the TLS handshake and authenticated by the mesh scheme
/// (<see cref="MeshAuthenticationDefaults.AuthenticationScheme"/>) — match one of <see cref="Patterns"/>. Like ASP.NET Core's
/// own <see cref="Microsoft.AspNetCore.Authorization.Infrastructure.ClaimsAuthorizationRequirement"/>, it is its own handler,
/// so no registration is needed beyond the scheme. Add it with
/// <see cref="MeshAuthorizationPolicyBuilderExtensions.RequireSpiffeId(AuthorizationPolicyBuilder, string[])"/>,
/// <see cref="MeshEndpointConventionBuilderExtensions.RequireSpiffeId{TBuilder}(TBuilder, string[])"/> or
/// <see cref="AuthorizeSpiffeIdAttribute"/>.
/// </summary>
public sealed class SpiffeIdAuthorizationRequirement : AuthorizationHandler<SpiffeIdAuthorizationRequirement>, IAuthorizationRequirement
{
    private readonly SpiffeIdPattern[] _patterns;
    private readonly string _described;

    /// <summary>Creates the requirement.</summary>
    /// <param name="patterns">The accepted callers: exact IDs, prefixes (<c>spiffe://mesh.test/ns/shop/*</c>) or whole trust
    /// domains (<c>spiffe://mesh.test/*</c>). At least one.</param>
    /// <exception cref="ArgumentException">No pattern was given.</exception>
    public SpiffeIdAuthorizationRequirement(IEnumerable<SpiffeIdPattern> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        _patterns = [.. patterns];
        if (_patterns.Length == 0 || Array.Exists(_patterns, p => p is null))
        {
            throw new ArgumentException(
                "A SPIFFE ID requirement needs at least one pattern (and no null), for example spiffe://mesh.test/orders, spiffe://mesh.test/ns/shop/* or spiffe://mesh.test/*.",
                nameof(patterns));
        }

        _described = string.Join(", ", _patterns.Select(p => p.ToString()));
    }

    /// <summary>The accepted callers.</summary>
    public IReadOnlyList<SpiffeIdPattern> Patterns => _patterns;

    /// <summary>Whether <paramref name="id"/> matches one of <see cref="Patterns"/>.</summary>
    /// <param name="id">A caller's SPIFFE ID.</param>
    /// <returns><see langword="true"/> when it is accepted.</returns>
    public bool IsAuthorized(SpiffeId id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return SpiffeIdPattern.IsMatchAny(_patterns, id);
    }

    /// <inheritdoc />
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, SpiffeIdAuthorizationRequirement requirement)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(requirement);
        var id = context.User.GetSpiffeId();
        if (id is not null && requirement.IsAuthorized(id))
        {
            context.Succeed(requirement);
            return Task.CompletedTask;
        }

        var reason = id is null
            ? $"the caller has no SPIFFE ID authenticated by the mesh scheme; accepted: {requirement._described}."
            : $"{id} is not accepted here; accepted: {requirement._described}.";
        context.Fail(new AuthorizationFailureReason(this, reason));
        if (context.Resource is HttpContext http)
        {
            AuthorizationNotes.AddFailure(http, reason); // for the scheme's 403 log line
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public override string ToString() => $"{nameof(SpiffeIdAuthorizationRequirement)}: the caller's SPIFFE ID matches one of: {_described}";
}
