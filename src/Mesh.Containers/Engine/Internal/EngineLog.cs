using Microsoft.Extensions.Logging;

namespace Mesh.Containers.Internal;

internal static partial class EngineLog
{
    [LoggerMessage(1, LogLevel.Debug, "Docker engine endpoint {Endpoint} did not answer: {Reason}")]
    public static partial void EndpointFailed(ILogger logger, Uri endpoint, string reason);

    [LoggerMessage(2, LogLevel.Information, "Connected to the Docker engine at {Endpoint} ({Server}), speaking Engine API {ApiVersion} (engine: {EngineApiVersion}); endpoint from {Source}, TLS: {Tls}, published ports reached on {PublishedPortHost}")]
    public static partial void Connected(ILogger logger, Uri endpoint, string? server, Version apiVersion, Version engineApiVersion, string source, bool tls, string publishedPortHost);
}
