using Microsoft.Extensions.Logging;

namespace Mesh.Configuration.Internal;

/// <summary>The log lines of the mesh's configuration (category <c>Mesh.Configuration</c>).</summary>
internal static partial class ConfigurationLog
{
    [LoggerMessage(1040, LogLevel.Error, "Mesh configuration reload refused; the last good configuration stays in effect: {Errors}", EventName = "ReloadRefused")]
    public static partial void ReloadRefused(ILogger logger, string errors);

    [LoggerMessage(1042, LogLevel.Error, "Mesh: a handler of a configuration change threw", EventName = "ChangeHandlerFailed")]
    public static partial void ChangeHandlerFailed(ILogger logger, Exception error);
}
