using Microsoft.Extensions.Logging;

namespace Mesh.Discovery.Internal;

/// <summary>Log lines about services' endpoint sets (category <c>Mesh.Discovery</c>; event ids 1030–1039).</summary>
internal static partial class DiscoveryLog
{
    /// <summary>The logger category (the discovery providers of Mesh.Discovery log under <c>Mesh.Discovery.*</c>).</summary>
    public const string Category = "Mesh.Discovery";

    [LoggerMessage(1030, LogLevel.Information, "Mesh service {Service}: endpoints updated from {Source}: {Count} endpoints ({Added} added, {Removed} removed)", EventName = "EndpointsUpdated")]
    public static partial void EndpointsUpdated(ILogger logger, string service, string source, int count, int added, int removed);

    [LoggerMessage(1031, LogLevel.Warning, "Mesh service {Service}: discovery source {Source} is failing: {Reason}; keeping the last known endpoints ({Count})", EventName = "DiscoveryFailed")]
    public static partial void DiscoveryFailed(ILogger logger, Exception? unexpected, string service, string source, string reason, int count);

    [LoggerMessage(1035, LogLevel.Debug, "Mesh service {Service}: discovery source {Source} is still failing ({Failures} failures in a row): {Reason}", EventName = "DiscoveryStillFailing")]
    public static partial void DiscoveryStillFailing(ILogger logger, string service, string source, int failures, string reason);

    [LoggerMessage(1036, LogLevel.Information, "Mesh service {Service}: discovery source {Source} recovered after {Failures} failures in a row; it publishes {Count} endpoints", EventName = "DiscoveryRecovered")]
    public static partial void DiscoveryRecovered(ILogger logger, string service, string source, int failures, int count);

    [LoggerMessage(1032, LogLevel.Warning, "Mesh service {Service}: skipped endpoint {Endpoint} from {Source}: {Reason}", EventName = "EndpointSkipped")]
    public static partial void EndpointSkipped(ILogger logger, string service, string endpoint, string source, string reason);

    [LoggerMessage(1033, LogLevel.Warning, "Mesh service {Service}: refused endpoint {Address} from {Source}: it is plain http, but the service requires mutual TLS (ServerIdentity or Mesh:RequireMutualTls); it receives no requests. Publish an https address, or set AllowPlainHttp on the service to allow clear text on purpose", EventName = "PlainHttpEndpointRefused")]
    public static partial void PlainHttpEndpointRefused(ILogger logger, string service, string address, string source);

    [LoggerMessage(1034, LogLevel.Warning, "Mesh service {Service}: endpoint {Address} from {Source} is plain http: its requests travel in clear text and the server's identity is not verified, although the workload has an identity. Use https, or set ServerIdentity (or Mesh:RequireMutualTls) to refuse plain-http endpoints", EventName = "PlainHttpEndpointAdmitted")]
    public static partial void PlainHttpEndpointAdmitted(ILogger logger, string service, string address, string source);
}
