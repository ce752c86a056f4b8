using Microsoft.Extensions.Logging;

namespace Mesh.Services.Internal;

/// <summary>Log lines of the registry: configuration applied or refused, watches stopped (category
/// <c>Mesh.Configuration</c>; event ids 1040–1049, 1061).</summary>
internal static partial class RegistryLog
{
    /// <summary>The logger category.</summary>
    public const string Category = "Mesh.Configuration";

    [LoggerMessage(1040, LogLevel.Error, "Mesh configuration reload refused; the last good configuration stays in effect: {Errors}", EventName = "ReloadRefused")]
    public static partial void ReloadRefused(ILogger logger, string errors);

    [LoggerMessage(1041, LogLevel.Information, "Mesh configuration applied: {Count} services", EventName = "ConfigurationApplied")]
    public static partial void ConfigurationApplied(ILogger logger, int count);

    [LoggerMessage(1061, LogLevel.Warning, "Mesh: stopping a discovery watch or health checker failed", EventName = "StopFailed")]
    public static partial void StopFailed(ILogger logger, Exception error);
}
