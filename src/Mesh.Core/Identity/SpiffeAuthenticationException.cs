using System.Security.Authentication;

namespace Mesh.Identity;

/// <summary>
/// A peer did not prove an acceptable SPIFFE identity during the TLS handshake. Thrown from the client's certificate
/// validation callback (see <see cref="MeshTlsClient"/>); <see cref="System.Net.Http.SocketsHttpHandler"/> surfaces it as the
/// <see cref="Exception.InnerException"/> of the <see cref="System.Net.Http.HttpRequestException"/> of the request.
/// The message names the expected and the presented identity.
/// </summary>
public sealed class SpiffeAuthenticationException : AuthenticationException
{
    /// <summary>Creates the exception.</summary>
    public SpiffeAuthenticationException()
        : this("The peer did not prove an acceptable SPIFFE identity.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public SpiffeAuthenticationException(string message)
        : base(message)
    {
        ExpectedIdentity = "";
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public SpiffeAuthenticationException(string message, Exception innerException)
        : base(message, innerException)
    {
        ExpectedIdentity = "";
    }

    /// <summary>Creates the exception for a refused SVID.</summary>
    /// <param name="reason">Why the peer's SVID was refused.</param>
    /// <param name="expectedIdentity">The identity (or pattern) that was expected, such as <c>spiffe://mesh.test/catalog</c>.</param>
    /// <param name="presentedIdentity">The URI SAN(s) the peer presented, or <see langword="null"/> when none.</param>
    /// <param name="message">What happened and what to do about it.</param>
    public SpiffeAuthenticationException(X509SvidFailureReason reason, string expectedIdentity, string? presentedIdentity, string message)
        : base(message)
    {
        ArgumentNullException.ThrowIfNull(expectedIdentity);
        Reason = reason;
        ExpectedIdentity = expectedIdentity;
        PresentedIdentity = presentedIdentity;
    }

    /// <summary>Why the peer's SVID was refused.</summary>
    public X509SvidFailureReason Reason { get; }

    /// <summary>The identity that was expected: a SPIFFE ID or pattern, such as <c>spiffe://mesh.test/catalog</c> or <c>spiffe://mesh.test/ns/shop/*</c>.</summary>
    public string ExpectedIdentity { get; }

    /// <summary>The URI SAN(s) the peer presented (comma separated when several), or <see langword="null"/> when it presented none.</summary>
    public string? PresentedIdentity { get; }
}
