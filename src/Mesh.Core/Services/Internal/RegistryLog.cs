using Microsoft.Extensions.Logging;

namespace Mesh.Services.Internal;

/// <summary>Log lines of the registry: configuration applied, watches stopped (category <c>Mesh.Configuration</c>,
/// shared with <see cref="Mesh.Configuration.Internal.ConfigurationLog"/>; event ids 1041, 1061).</summary>
internal static partial class RegistryLog
{
    /// <summary>The logger category.</summary>
    public const string Category = "Mesh.Configuration";

    [LoggerMessage(1041, LogLevel.Information, "Mesh configuration applied: {Count} services", EventName = "ConfigurationApplied")]
    public static partial void ConfigurationApplied(ILogger logger, int count);

    [LoggerMessage(1061, LogLevel.Warning, "Mesh: stopping a discovery watch or health checker failed", EventName = "StopFailed")]
    public static partial void StopFailed(ILogger logger, Exception error);
}
