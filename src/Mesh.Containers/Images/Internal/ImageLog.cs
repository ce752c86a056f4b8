using Microsoft.Extensions.Logging;

namespace Mesh.Containers.Internal;

internal static partial class ImageLog
{
    [LoggerMessage(1, LogLevel.Debug, "[build {Reference}] {Line}")]
    public static partial void BuildOutput(ILogger logger, string reference, string line);

    [LoggerMessage(2, LogLevel.Information, "Built image {Reference} in {ElapsedMs:0} ms")]
    public static partial void Built(ILogger logger, string reference, double elapsedMs);

    [LoggerMessage(3, LogLevel.Information, "Image {Reference} is up to date (content hash matches); nothing to build")]
    public static partial void CacheHit(ILogger logger, string reference);

    [LoggerMessage(4, LogLevel.Information, "Publishing {Project} for {RuntimeIdentifier} (self-contained)")]
    public static partial void Publishing(ILogger logger, string project, string runtimeIdentifier);

    [LoggerMessage(5, LogLevel.Debug, "[publish {Project}] {Line}")]
    public static partial void PublishOutput(ILogger logger, string project, string line);

    [LoggerMessage(6, LogLevel.Information, "Imported image {Reference} from a root filesystem archive")]
    public static partial void Imported(ILogger logger, string reference);
}
