using Microsoft.Extensions.Logging;

namespace Mesh.Containers.Internal;

internal static partial class ContainerLog
{
    [LoggerMessage(1, LogLevel.Debug, "Container {Name} is ready after {ElapsedMs:0} ms")]
    public static partial void Ready(ILogger logger, string name, double elapsedMs);
}
