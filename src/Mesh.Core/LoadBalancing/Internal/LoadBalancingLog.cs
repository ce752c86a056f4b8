using Microsoft.Extensions.Logging;

namespace Mesh.LoadBalancing.Internal;

/// <summary>Log lines of load balancing (category <c>Mesh.LoadBalancing</c>; event ids 1070–1079).</summary>
internal static partial class LoadBalancingLog
{
    /// <summary>The logger category.</summary>
    public const string Category = "Mesh.LoadBalancing";

    [LoggerMessage(1070, LogLevel.Error, "Mesh service {Service}: load balancer {Balancer} failed to create a picker; requests are spread round robin over the same healthy endpoints until it succeeds", EventName = "BalancerFailed")]
    public static partial void BalancerFailed(ILogger logger, Exception error, string service, string balancer);
}
