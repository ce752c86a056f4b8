using Microsoft.Extensions.Logging;

namespace Mesh.Internal;

/// <summary>Every log line of Mesh.Core, with stable event ids (1000-1999). Never logs key material.</summary>
internal static partial class MeshLog
{
    [LoggerMessage(1001, LogLevel.Warning, "Mesh service {Service}: ejected endpoint {Endpoint} for {Duration} (ejection {Ejections} in a row): {Reason}", EventName = "EndpointEjected")]
    public static partial void EndpointEjected(ILogger logger, string service, string endpoint, TimeSpan duration, int ejections, string reason);

    [LoggerMessage(1002, LogLevel.Information, "Mesh service {Service}: endpoint {Endpoint} returned to service: {Reason}", EventName = "EndpointReturned")]
    public static partial void EndpointReturned(ILogger logger, string service, string endpoint, string reason);

    [LoggerMessage(1003, LogLevel.Information, "Mesh service {Service}: ejection of endpoint {Endpoint} ended; the next request to it is a probe", EventName = "EndpointProbing")]
    public static partial void EndpointProbing(ILogger logger, string service, string endpoint);

    [LoggerMessage(1004, LogLevel.Warning, "Mesh service {Service}: endpoint {Endpoint} meets the ejection rule ({Reason}) but {Ejected} of {Total} endpoints are already ejected (MaxEjectionPercent {Percent})", EventName = "EjectionLimited")]
    public static partial void EjectionLimited(ILogger logger, string service, string endpoint, string reason, int ejected, int total, int percent);

    [LoggerMessage(1010, LogLevel.Warning, "Mesh service {Service}: endpoint {Endpoint} is unhealthy: {Reason}", EventName = "EndpointUnhealthy")]
    public static partial void EndpointUnhealthy(ILogger logger, string service, string endpoint, string reason);

    [LoggerMessage(1011, LogLevel.Debug, "Mesh service {Service}: health check of {Endpoint} failed: {Reason}", EventName = "HealthCheckFailed")]
    public static partial void HealthCheckFailed(ILogger logger, string service, string endpoint, string reason);

    [LoggerMessage(1020, LogLevel.Warning, "Mesh service {Service}: panic mode: only {Healthy} of {Total} endpoints are healthy (PanicThreshold {Threshold}%); balancing over all of them", EventName = "PanicEntered")]
    public static partial void PanicEntered(ILogger logger, string service, int healthy, int total, int threshold);

    [LoggerMessage(1021, LogLevel.Information, "Mesh service {Service}: left panic mode: {Healthy} of {Total} endpoints are healthy", EventName = "PanicExited")]
    public static partial void PanicExited(ILogger logger, string service, int healthy, int total);

    [LoggerMessage(1030, LogLevel.Information, "Mesh service {Service}: endpoints updated from {Source}: {Count} endpoints ({Added} added, {Removed} removed)", EventName = "EndpointsUpdated")]
    public static partial void EndpointsUpdated(ILogger logger, string service, string source, int count, int added, int removed);

    [LoggerMessage(1031, LogLevel.Warning, "Mesh service {Service}: discovery source {Source} failed; keeping the last known endpoints ({Count})", EventName = "DiscoveryFailed")]
    public static partial void DiscoveryFailed(ILogger logger, Exception error, string service, string source, int count);

    [LoggerMessage(1032, LogLevel.Warning, "Mesh service {Service}: skipped endpoint {Endpoint} from {Source}: {Reason}", EventName = "EndpointSkipped")]
    public static partial void EndpointSkipped(ILogger logger, string service, string endpoint, string source, string reason);

    [LoggerMessage(1033, LogLevel.Warning, "Mesh service {Service}: refused endpoint {Address} from {Source}: it is plain http, but the service requires mutual TLS (ServerIdentity or Mesh:RequireMutualTls); it receives no requests. Publish an https address, or set AllowPlainHttp on the service to allow clear text on purpose", EventName = "PlainHttpEndpointRefused")]
    public static partial void PlainHttpEndpointRefused(ILogger logger, string service, string address, string source);

    [LoggerMessage(1034, LogLevel.Warning, "Mesh service {Service}: endpoint {Address} from {Source} is plain http: its requests travel in clear text and the server's identity is not verified, although the workload has an identity. Use https, or set ServerIdentity (or Mesh:RequireMutualTls) to refuse plain-http endpoints", EventName = "PlainHttpEndpointAdmitted")]
    public static partial void PlainHttpEndpointAdmitted(ILogger logger, string service, string address, string source);

    [LoggerMessage(1040, LogLevel.Error, "Mesh configuration reload refused; the last good configuration stays in effect: {Errors}", EventName = "ReloadRefused")]
    public static partial void ReloadRefused(ILogger logger, string errors);

    [LoggerMessage(1041, LogLevel.Information, "Mesh configuration applied: {Count} services", EventName = "ConfigurationApplied")]
    public static partial void ConfigurationApplied(ILogger logger, int count);

    [LoggerMessage(1050, LogLevel.Warning, "Mesh service {Service}: retry refused, the retry budget is spent", EventName = "RetryBudgetExhausted")]
    public static partial void RetryBudgetExhausted(ILogger logger, string service);

    [LoggerMessage(1060, LogLevel.Error, "Mesh: an event handler of EndpointHealthChanged threw", EventName = "EventHandlerFailed")]
    public static partial void EventHandlerFailed(ILogger logger, Exception error);

    [LoggerMessage(1061, LogLevel.Warning, "Mesh: stopping a discovery watch or health checker failed", EventName = "StopFailed")]
    public static partial void StopFailed(ILogger logger, Exception error);
}
