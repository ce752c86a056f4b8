using Microsoft.Extensions.Logging;

namespace Mesh.Health.Internal;

/// <summary>Health log lines of Mesh.Core (category <c>Mesh.Health</c>; event ids 1001–1029, 1060).</summary>
internal static partial class HealthLog
{
    /// <summary>The logger category.</summary>
    public const string Category = "Mesh.Health";

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

    [LoggerMessage(1012, LogLevel.Information, "Mesh service {Service}: active health checks turned off; endpoint {Endpoint} is no longer held back by them", EventName = "HealthChecksReleased")]
    public static partial void HealthChecksReleased(ILogger logger, string service, string endpoint);

    [LoggerMessage(1020, LogLevel.Warning, "Mesh service {Service}: panic mode: only {Healthy} of {Total} endpoints are healthy (PanicThreshold {Threshold}%); balancing over all of them", EventName = "PanicEntered")]
    public static partial void PanicEntered(ILogger logger, string service, int healthy, int total, int threshold);

    [LoggerMessage(1021, LogLevel.Information, "Mesh service {Service}: left panic mode: {Healthy} of {Total} endpoints are healthy", EventName = "PanicExited")]
    public static partial void PanicExited(ILogger logger, string service, int healthy, int total);

    [LoggerMessage(1060, LogLevel.Error, "Mesh: an event handler of EndpointHealthChanged threw", EventName = "EventHandlerFailed")]
    public static partial void EventHandlerFailed(ILogger logger, Exception error);
}
