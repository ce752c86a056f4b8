using System.Net;

namespace Mesh;

/// <summary>A request named a host that is not a configured mesh service.</summary>
public sealed class MeshServiceNotFoundException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="serviceName">The host name that was looked up.</param>
    /// <param name="knownServices">The services the mesh knows.</param>
    public MeshServiceNotFoundException(string serviceName, IEnumerable<string> knownServices)
        : base(CreateMessage(serviceName, knownServices))
    {
        ServiceName = serviceName;
    }

    /// <summary>The host name that is not a service.</summary>
    public string ServiceName { get; }

    private static string CreateMessage(string serviceName, IEnumerable<string> knownServices)
    {
        var known = string.Join(", ", knownServices.Order(StringComparer.Ordinal));
        return $"'{serviceName}' is not a mesh service: there is no Mesh:Services:{serviceName} section (nor Services:{serviceName} for " +
            $"Microsoft.Extensions.ServiceDiscovery). Known services: {(known.Length == 0 ? "none" : known)}. " +
            "Check the client's BaseAddress host, or set Mesh:PassThroughUnknownHosts to true to send such requests unchanged.";
    }
}

/// <summary>No endpoint of a service could take a request. Transient (an <see cref="HttpRequestException"/>):
/// endpoints may return or be discovered.</summary>
public sealed class MeshNoEndpointsException : HttpRequestException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="serviceName">The service.</param>
    /// <param name="reason">Why no endpoint is available.</param>
    public MeshNoEndpointsException(string serviceName, string reason)
        : base(HttpRequestError.ConnectionError, $"No endpoint of mesh service '{serviceName}' is available: {reason}", null, HttpStatusCode.ServiceUnavailable)
    {
        ServiceName = serviceName;
    }

    /// <summary>The service.</summary>
    public string ServiceName { get; }
}

/// <summary>An attempt exceeded the service's <c>AttemptTimeout</c>. Transient, so an outer retry tries another endpoint.</summary>
public sealed class MeshAttemptTimeoutException : HttpRequestException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="serviceName">The service.</param>
    /// <param name="endpoint">The endpoint that did not answer in time.</param>
    /// <param name="timeout">The deadline.</param>
    public MeshAttemptTimeoutException(string serviceName, string endpoint, TimeSpan timeout)
        : base(HttpRequestError.Unknown, $"The attempt to mesh service '{serviceName}' at {endpoint} timed out after {timeout} (Mesh:Services:{serviceName}:AttemptTimeout).", new TimeoutException(), HttpStatusCode.GatewayTimeout)
    {
        ServiceName = serviceName;
        Endpoint = endpoint;
        Timeout = timeout;
    }

    /// <summary>The service.</summary>
    public string ServiceName { get; }

    /// <summary>The endpoint that did not answer in time.</summary>
    public string Endpoint { get; }

    /// <summary>The deadline that passed.</summary>
    public TimeSpan Timeout { get; }
}

/// <summary>A retry was refused because the service's retry budget is spent (too many retries compared with requests).
/// Not transient: retrying would only add load to a failing service.</summary>
public sealed class MeshRetryBudgetExceededException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="serviceName">The service.</param>
    /// <param name="retryRatio">The configured ratio of retries to requests.</param>
    public MeshRetryBudgetExceededException(string serviceName, double retryRatio)
        : base($"The retry budget of mesh service '{serviceName}' is spent: retries already exceed {retryRatio:P0} of recent requests plus the per-second floor (Mesh:Services:{serviceName}:RetryBudget). The retry was not sent.")
    {
        ServiceName = serviceName;
    }

    /// <summary>The service.</summary>
    public string ServiceName { get; }
}

/// <summary>Describes a hedged attempt that was not sent because the service's hedge budget
/// (<c>Mesh:Services:{name}:Hedging:BudgetRatio</c>) is spent. The mesh handler no longer fails a refused hedge with it:
/// a refused hedge waits for the attempts in flight (a failed hedge counted against the standard hedging handler's
/// circuit breaker, which then refused every request), and <c>mesh.client.hedges</c> counts it as refused.</summary>
public sealed class MeshHedgeBudgetExceededException : HttpRequestException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="serviceName">The service.</param>
    /// <param name="budgetRatio">The service's hedge budget ratio.</param>
    public MeshHedgeBudgetExceededException(string serviceName, double budgetRatio)
        : base(HttpRequestError.Unknown, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"No hedge of the request to mesh service '{serviceName}' was sent: its hedge budget ({budgetRatio:P0} of requests plus Hedging:MinHedgesPerSecond) is spent."))
    {
        ServiceName = serviceName;
    }

    /// <summary>The service.</summary>
    public string ServiceName { get; }
}
