using System.Net.Http;
using Mesh.Identity.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Identity;

/// <summary>
/// Configures a <see cref="SocketsHttpHandler"/> for mutual TLS with SPIFFE identities: every new connection presents the
/// workload's <em>current</em> X.509-SVID (read at each handshake, so a rotated identity is used without replacing the
/// handler) and accepts the server only when its X.509-SVID validates against the bundle of its trust domain and its
/// SPIFFE ID matches the expected pattern. The identity check replaces the host-name check (endpoints are IP addresses).
/// </summary>
public static class MeshTlsClient
{
    /// <summary>The <see cref="SocketsHttpHandler.PooledConnectionLifetime"/> set when the handler's is infinite, so that
    /// connections are re-established (with the current SVID) well within an SVID's lifetime.</summary>
    public static readonly TimeSpan DefaultPooledConnectionLifetime = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Configures <paramref name="handler"/>'s <see cref="SocketsHttpHandler.SslOptions"/> (call before its first request).
    /// A server that fails the check fails the request with an <see cref="System.Net.Http.HttpRequestException"/> whose
    /// <see cref="Exception.InnerException"/> is a <see cref="SpiffeAuthenticationException"/> naming the expected and the presented identity.
    /// </summary>
    /// <param name="handler">The handler of one logical service (its connections are all checked against <paramref name="expectedServer"/>).</param>
    /// <param name="identity">The workload's identity: the SVID to present and the bundles to validate the server with.</param>
    /// <param name="expectedServer">The identity the server must prove: an exact ID, a prefix (<c>.../*</c>) or a trust domain (<c>spiffe://td/*</c>).</param>
    /// <param name="logger">Where refused servers are logged (warning, with the reason); none by default.</param>
    /// <param name="timeProvider">The clock validity periods are checked against; <see cref="TimeProvider.System"/> by default.</param>
    /// <returns>The same handler.</returns>
    public static SocketsHttpHandler Configure(
        SocketsHttpHandler handler,
        IMeshIdentitySource identity,
        SpiffeIdPattern expectedServer,
        ILogger? logger = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var authenticator = new MeshTlsClientAuthenticator(identity, expectedServer, logger, timeProvider);
        authenticator.Apply(handler.SslOptions);
        if (handler.PooledConnectionLifetime == Timeout.InfiniteTimeSpan)
        {
            handler.PooledConnectionLifetime = DefaultPooledConnectionLifetime;
        }

        return handler;
    }
}
