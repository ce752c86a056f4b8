using System.Security.Claims;
using Mesh.Identity;

namespace Mesh.Authorization;

/// <summary>Reads the caller's SPIFFE ID from a principal authenticated by the mesh scheme.</summary>
public static class MeshClaimsPrincipalExtensions
{
    /// <summary>The SPIFFE ID of the principal's mesh identity (the one whose authentication type is
    /// <see cref="MeshAuthenticationDefaults.AuthenticationScheme"/>), or <see langword="null"/> when it has none. Claims of
    /// other schemes (a JWT carrying a <c>spiffe_id</c> claim, for instance) are never read.</summary>
    /// <param name="principal">The request's user.</param>
    /// <returns>The caller's SPIFFE ID, or <see langword="null"/>.</returns>
    public static SpiffeId? GetSpiffeId(this ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        foreach (var identity in principal.Identities)
        {
            if (identity.IsAuthenticated &&
                string.Equals(identity.AuthenticationType, MeshAuthenticationDefaults.AuthenticationScheme, StringComparison.Ordinal) &&
                identity.FindFirst(MeshClaimTypes.SpiffeId)?.Value is { } value &&
                SpiffeId.TryParse(value, out var id, out _))
            {
                return id;
            }
        }

        return null;
    }
}
