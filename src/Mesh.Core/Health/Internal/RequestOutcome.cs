namespace Mesh.Health.Internal;

/// <summary>How one attempt ended, as outlier detection, the balancer and metrics see it. The failure values match
/// <see cref="OutlierFailureKinds"/>, so <c>(kinds &amp; (OutlierFailureKinds)outcome) != 0</c> says whether it counts.</summary>
internal enum RequestOutcome
{
    /// <summary>A response that is not a failure (for gRPC: a status not listed in <c>GrpcStatusCodes</c>).</summary>
    Success = 0,

    /// <summary>No connection, or it broke before a response (refused, reset, TLS or identity failure, connect timeout),
    /// or a gRPC response stream that broke before its status.</summary>
    ConnectionFailure = 1,

    /// <summary>The attempt exceeded its deadline (for gRPC: also the status <c>DEADLINE_EXCEEDED</c>, when listed).</summary>
    Timeout = 2,

    /// <summary>A 5xx response, or a gRPC status listed in <c>GrpcStatusCodes</c>.</summary>
    ServerError = 4,

    /// <summary>The caller gave up (its own token was cancelled).</summary>
    Cancellation = 8,

    /// <summary>The caller disposed a gRPC response stream before its end: neither a success nor a failure of the
    /// endpoint, whatever <c>FailureKinds</c> says (no <see cref="OutlierFailureKinds"/> value matches it).</summary>
    Abandoned = 16,
}

/// <summary>Helpers over <see cref="RequestOutcome"/>.</summary>
internal static class RequestOutcomes
{
    /// <summary>Whether an outcome says something bad about the endpoint, for the balancer's latency estimate: a
    /// failure counts as at least the penalty RTT. The caller giving up does not.</summary>
    public static bool IsFailure(RequestOutcome outcome) =>
        outcome is not (RequestOutcome.Success or RequestOutcome.Cancellation or RequestOutcome.Abandoned);
}
