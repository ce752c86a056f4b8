using Microsoft.Extensions.Logging;

namespace Mesh.Authorization.Internal;

internal sealed partial class MeshAuthenticationHandler
{
    /// <summary>The scheme's refusals (category <see cref="MeshAuthenticationDefaults.LoggerCategory"/>). Identities, routes,
    /// endpoints and reasons only.</summary>
    private static partial class Log
    {
        [LoggerMessage(EventId = 5030, EventName = "PeerForbidden", Level = LogLevel.Warning,
            Message = "Forbade {Method} {Route} to {SpiffeId} from {RemoteEndPoint} (403): {Reason}")]
        public static partial void Forbidden(ILogger logger, string method, string route, string spiffeId, string remoteEndPoint, string reason);

        [LoggerMessage(EventId = 5031, EventName = "PeerUnauthenticated", Level = LogLevel.Warning,
            Message = "Refused {Method} {Route} from {RemoteEndPoint} (401): {Reason}.")]
        public static partial void Unauthenticated(ILogger logger, string method, string route, string remoteEndPoint, string reason);
    }
}
