namespace Mesh.Authorization;

/// <summary>Names of the mesh authentication scheme, which turns the caller's SPIFFE ID (proven by its X.509-SVID at the
/// TLS handshake of a <c>UseMeshIdentity</c> endpoint) into the request's authenticated principal.</summary>
public static class MeshAuthenticationDefaults
{
    /// <summary>The scheme's name, also the principal's authentication type: <c>Mesh</c>.</summary>
    public const string AuthenticationScheme = "Mesh";

    /// <summary>The logger category of the scheme's refusals (401 and 403): <c>Mesh.Identity.Authorization</c>.</summary>
    public const string LoggerCategory = "Mesh.Identity.Authorization";
}
