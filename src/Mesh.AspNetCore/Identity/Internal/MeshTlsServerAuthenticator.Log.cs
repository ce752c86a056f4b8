using Microsoft.Extensions.Logging;

namespace Mesh.Identity.Internal;

internal sealed partial class MeshTlsServerAuthenticator
{
    /// <summary>The log lines of the server's handshake (category <see cref="MeshKestrelExtensions.LoggerCategory"/>).
    /// Only identities, endpoints and reasons are logged; key material never is.</summary>
    private static partial class Log
    {
        [LoggerMessage(EventId = 5010, EventName = "PeerRefused", Level = LogLevel.Warning,
            Message = "Refused the TLS connection from {RemoteEndPoint} to {LocalEndPoint}: {Reason}. {Detail}")]
        public static partial void ClientRefused(ILogger logger, string remoteEndPoint, string localEndPoint, X509SvidFailureReason reason, string detail);

        [LoggerMessage(EventId = 5011, EventName = "PeerAccepted", Level = LogLevel.Debug,
            Message = "Accepted the TLS connection from {RemoteEndPoint} to {LocalEndPoint} as {SpiffeId}.")]
        public static partial void ClientAccepted(ILogger logger, string remoteEndPoint, string localEndPoint, SpiffeId spiffeId);
    }
}
