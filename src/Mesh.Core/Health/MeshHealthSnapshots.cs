namespace Mesh;

/// <summary>The routing health of one endpoint.</summary>
public enum MeshEndpointHealth
{
    /// <summary>Receives its full share of traffic.</summary>
    Healthy = 0,

    /// <summary>Receives traffic, ramping up after joining or returning (slow start).</summary>
    SlowStart,

    /// <summary>Its ejection ended; the next request to it is a probe that decides whether it returns.</summary>
    Probing,

    /// <summary>Ejected by outlier detection after failed requests; receives no traffic until the ejection ends.</summary>
    Ejected,

    /// <summary>Failing its active health checks; receives no traffic until they pass.</summary>
    Unhealthy,
}

/// <summary>A point-in-time view of one endpoint of a service.</summary>
public sealed class MeshEndpointSnapshot
{
    internal MeshEndpointSnapshot(MeshEndpoint endpoint, MeshEndpointHealth health, string? reason, int inFlight, TimeSpan? rtt,
        long requests, long failures, double weightFactor, DateTimeOffset? ejectedUntil, double lateShare = 0)
    {
        LateShare = lateShare;
        Endpoint = endpoint;
        Health = health;
        Reason = reason;
        InFlight = inFlight;
        RttEstimate = rtt;
        Requests = requests;
        Failures = failures;
        WeightFactor = weightFactor;
        EjectedUntil = ejectedUntil;
    }

    /// <summary>The endpoint.</summary>
    public MeshEndpoint Endpoint { get; }

    /// <summary>Its routing health.</summary>
    public MeshEndpointHealth Health { get; }

    /// <summary>Why it is in that state (for example "5 consecutive failures (last: connection refused)"), or <see langword="null"/> when healthy.</summary>
    public string? Reason { get; }

    /// <summary>Requests in flight now.</summary>
    public int InFlight { get; }

    /// <summary>The current peak-EWMA latency estimate, or <see langword="null"/> before the first response.</summary>
    public TimeSpan? RttEstimate { get; }

    /// <summary>The share of its recent attempts (about the last 128) that ended late: after the service's
    /// 97.5th-percentile latency and after 2.5 times its own typical latency (cancelled attempts included). About 2.5%
    /// or less for a healthy endpoint; above 5%, PeakEwma counts it as slower than its estimate says (see
    /// docs/load-balancing.md, "The tail rate").</summary>
    public double LateShare { get; }

    /// <summary>Requests sent to it since it joined.</summary>
    public long Requests { get; }

    /// <summary>Requests to it that failed since it joined.</summary>
    public long Failures { get; }

    /// <summary>The share of its weight it receives now (below 1 during slow start).</summary>
    public double WeightFactor { get; }

    /// <summary>When its ejection ends, when ejected.</summary>
    public DateTimeOffset? EjectedUntil { get; }
}

/// <summary>A point-in-time view of one service.</summary>
public sealed class MeshServiceSnapshot
{
    internal MeshServiceSnapshot(string name, LoadBalancerKind loadBalancer, string loadBalancerName, bool panicMode, IReadOnlyList<MeshEndpointSnapshot> endpoints, string? discoveryProblem,
        IReadOnlyList<MeshDiscoverySourceSnapshot>? discoverySources = null)
    {
        Name = name;
        LoadBalancer = loadBalancer;
        LoadBalancerName = loadBalancerName;
        PanicMode = panicMode;
        Endpoints = endpoints;
        DiscoveryProblem = discoveryProblem;
        DiscoverySources = discoverySources ?? [];
    }

    /// <summary>The service name.</summary>
    public string Name { get; }

    /// <summary>Its load balancer, when a built-in one (see <see cref="LoadBalancerName"/>).</summary>
    public LoadBalancerKind LoadBalancer { get; }

    /// <summary>The name of its load balancer, built-in or custom (<c>LoadBalancer</c>).</summary>
    public string LoadBalancerName { get; }

    /// <summary>Whether too few endpoints are healthy and traffic is spread over all of them.</summary>
    public bool PanicMode { get; }

    /// <summary>Its endpoints.</summary>
    public IReadOnlyList<MeshEndpointSnapshot> Endpoints { get; }

    /// <summary>When a discovery source failed and the last known endpoints are in use: what went wrong.</summary>
    public string? DiscoveryProblem { get; }

    /// <summary>The service's discovery sources (<c>Discovery</c>: <c>Configuration</c>, <c>Dns</c>, <c>Etcd</c>...), in
    /// the configured order, each with what it last published and its current problem.</summary>
    public IReadOnlyList<MeshDiscoverySourceSnapshot> DiscoverySources { get; }

    /// <summary>Endpoints that receive normal traffic (healthy, ramping up or probing).</summary>
    public int AvailableCount => Endpoints.Count(e => e.Health is MeshEndpointHealth.Healthy or MeshEndpointHealth.SlowStart or MeshEndpointHealth.Probing);
}

/// <summary>A point-in-time view of one discovery source of a service.</summary>
public sealed class MeshDiscoverySourceSnapshot
{
    internal MeshDiscoverySourceSnapshot(string name, int? endpointCount, string? problem, int failuresInARow)
    {
        Name = name;
        EndpointCount = endpointCount;
        Problem = problem;
        FailuresInARow = failuresInARow;
    }

    /// <summary>The source (a discovery provider's name, or <c>Configuration</c>).</summary>
    public string Name { get; }

    /// <summary>How many endpoints its last set listed (before endpoints the service refuses were left out), or
    /// <see langword="null"/> while it has published none.</summary>
    public int? EndpointCount { get; }

    /// <summary>Why its last refresh failed (its last set stays in use), or <see langword="null"/> when it succeeded.</summary>
    public string? Problem { get; }

    /// <summary>Refreshes that failed in a row (0 when the last one succeeded).</summary>
    public int FailuresInARow { get; }
}

/// <summary>An endpoint changed health (ejected, returned, became unhealthy, entered probing).</summary>
public sealed class MeshEndpointHealthChangedEventArgs : EventArgs
{
    internal MeshEndpointHealthChangedEventArgs(string service, MeshEndpoint endpoint, MeshEndpointHealth previous, MeshEndpointHealth current, string reason)
    {
        Service = service;
        Endpoint = endpoint;
        Previous = previous;
        Current = current;
        Reason = reason;
    }

    /// <summary>The service.</summary>
    public string Service { get; }

    /// <summary>The endpoint.</summary>
    public MeshEndpoint Endpoint { get; }

    /// <summary>The health before.</summary>
    public MeshEndpointHealth Previous { get; }

    /// <summary>The health now.</summary>
    public MeshEndpointHealth Current { get; }

    /// <summary>Why.</summary>
    public string Reason { get; }
}
