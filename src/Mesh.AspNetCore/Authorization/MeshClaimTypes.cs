namespace Mesh.Authorization;

/// <summary>The claim types of a principal authenticated by the mesh scheme (<see cref="MeshAuthenticationDefaults.AuthenticationScheme"/>).
/// The principal also carries the SPIFFE ID as <see cref="System.Security.Claims.ClaimTypes.NameIdentifier"/> and
/// <see cref="System.Security.Claims.ClaimTypes.Name"/> (so <c>User.Identity.Name</c> is the caller's ID); every claim's
/// issuer is the caller's trust domain (<c>spiffe://mesh.test</c>).</summary>
public static class MeshClaimTypes
{
    /// <summary>The caller's SPIFFE ID, such as <c>spiffe://mesh.test/orders</c>.</summary>
    public const string SpiffeId = "spiffe_id";

    /// <summary>The trust domain of the caller's SPIFFE ID, such as <c>mesh.test</c>.</summary>
    public const string TrustDomain = "spiffe_trust_domain";
}
