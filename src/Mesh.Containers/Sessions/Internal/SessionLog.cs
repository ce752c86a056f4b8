using Microsoft.Extensions.Logging;

namespace Mesh.Containers.Internal;

internal static partial class SessionLog
{
    [LoggerMessage(1, LogLevel.Information, "Docker session {SessionId} started (process {ProcessId})")]
    public static partial void Started(ILogger logger, string sessionId, int processId);

    [LoggerMessage(2, LogLevel.Information, "Swept {Containers} containers and {Networks} networks of {Sessions} sessions whose process is gone")]
    public static partial void Swept(ILogger logger, int containers, int networks, int sessions);

    [LoggerMessage(3, LogLevel.Warning, "Could not remove {Kind} {Id} of session {SessionId}: {Reason}")]
    public static partial void RemoveFailed(ILogger logger, string kind, string id, string sessionId, string reason);

    [LoggerMessage(4, LogLevel.Information, "Docker session {SessionId} disposed: removed {Containers} containers and {Networks} networks")]
    public static partial void Disposed(ILogger logger, string sessionId, int containers, int networks);

    [LoggerMessage(5, LogLevel.Warning, "Docker session {SessionId} could not remove its resources ({Reason}); the next session sweeps them")]
    public static partial void DisposeFailed(ILogger logger, string sessionId, string reason);
}
