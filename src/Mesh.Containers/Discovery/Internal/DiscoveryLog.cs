using Microsoft.Extensions.Logging;

namespace Mesh.Containers.Internal;

internal static partial class DiscoveryLog
{
    [LoggerMessage(1, LogLevel.Warning, "Docker discovery of {Service} failed ({Reason}); retrying in {DelayMs:0} ms")]
    public static partial void WatchFailed(ILogger logger, string service, string reason, double delayMs);

    [LoggerMessage(2, LogLevel.Debug, "Docker discovery published {Count} endpoints of {Service}")]
    public static partial void Published(ILogger logger, string service, int count);

    [LoggerMessage(3, LogLevel.Debug, "Docker discovery of {Service} skips container {Container}: {Reason}")]
    public static partial void Skipped(ILogger logger, string service, string container, string reason);
}
