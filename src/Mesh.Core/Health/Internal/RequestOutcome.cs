namespace Mesh.Health.Internal;

/// <summary>How one attempt ended, as outlier detection, the balancer and metrics see it. The failure values match
/// <see cref="OutlierFailureKinds"/>, so <c>(kinds &amp; (OutlierFailureKinds)outcome) != 0</c> says whether it counts.</summary>
internal enum RequestOutcome
{
    /// <summary>A response that is not a failure.</summary>
    Success = 0,

    /// <summary>No connection, or it broke before a response (refused, reset, TLS or identity failure, connect timeout).</summary>
    ConnectionFailure = 1,

    /// <summary>The attempt exceeded its deadline.</summary>
    Timeout = 2,

    /// <summary>A 5xx response.</summary>
    ServerError = 4,

    /// <summary>The caller gave up (its own token was cancelled).</summary>
    Cancellation = 8,
}
