namespace Mesh.Testing;

/// <summary>What a <see cref="TrafficDriver"/> sends, how fast and for how long.</summary>
public sealed class TrafficOptions
{
    /// <summary>Requests in flight at once (workers). Default: 4.</summary>
    public int Concurrency { get; set; } = 4;

    /// <summary>The total request rate; <see langword="null"/> sends as fast as the workers can. Default: null.</summary>
    public double? RequestsPerSecond { get; set; }

    /// <summary>How long to send. For <see cref="TrafficDriver.RunAsync(HttpClient, TrafficOptions, CancellationToken)"/> at
    /// least one of <see cref="Duration"/> and <see cref="RequestCount"/> must be set; a run from
    /// <see cref="TrafficDriver.Start"/> may set neither and end with <see cref="TrafficRun.StopAsync"/>.</summary>
    public TimeSpan? Duration { get; set; }

    /// <summary>How many requests to send in all.</summary>
    public long? RequestCount { get; set; }

    /// <summary>A hard limit on the run, whatever else is set. Default: 10 minutes.</summary>
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long <see cref="TrafficRun.StopAsync"/> lets the requests in flight finish (and count) before it
    /// cancels them. Default: 10 seconds.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Creates each request (relative URIs resolve against the client's BaseAddress). Default: GET /.</summary>
    public Func<HttpRequestMessage> CreateRequest { get; set; } = static () => new HttpRequestMessage(HttpMethod.Get, "/");

    /// <summary>Names the replica that answered. Default: the test replica's <c>x-replica-id</c> response header when
    /// there is one; otherwise the endpoint the mesh sent the request to (<c>response.GetMeshEndpoint()</c>): its
    /// <see cref="ServiceFleet.ReplicaMetadataKey"/> metadata (fleets publish each replica's id there), or its address.
    /// So fleets of any image identify their replicas without a custom header.</summary>
    public Func<HttpResponseMessage, string?> IdentifyReplica { get; set; } = static response =>
        response.Headers.TryGetValues(InProcessReplica.ReplicaHeader, out var values) ? values.FirstOrDefault()
        : response.GetMeshEndpoint() is { } endpoint ? endpoint.Metadata.GetValueOrDefault(ServiceFleet.ReplicaMetadataKey) ?? endpoint.Key
        : null;

    /// <summary>Whether a response counts as a success. Default: 2xx and 3xx.</summary>
    public Func<HttpResponseMessage, bool> IsSuccess { get; set; } = static response => (int)response.StatusCode < 400;

    /// <summary>Checks the options; <paramref name="mustEnd"/>: a run that nobody stops needs a duration or a count.</summary>
    internal void Validate(bool mustEnd)
    {
        if (Concurrency is < 1 or > 10_000)
        {
            throw new ArgumentOutOfRangeException(nameof(Concurrency), Concurrency, "Concurrency must be 1 to 10000.");
        }

        if (mustEnd && Duration is null && RequestCount is null)
        {
            throw new ArgumentException("Set Duration, RequestCount or both, so that the run ends (or use TrafficDriver.Start and stop the run with StopAsync).", nameof(Duration));
        }

        if (Duration is { } duration && duration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Duration), duration, "Duration must be positive.");
        }

        if (RequestCount is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RequestCount), RequestCount, "RequestCount must be at least 1.");
        }

        if (MaxDuration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDuration), MaxDuration, "MaxDuration must be positive.");
        }

        if (StopTimeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(StopTimeout), StopTimeout, "StopTimeout must not be negative.");
        }

        ArgumentNullException.ThrowIfNull(CreateRequest, nameof(CreateRequest));
        ArgumentNullException.ThrowIfNull(IdentifyReplica, nameof(IdentifyReplica));
        ArgumentNullException.ThrowIfNull(IsSuccess, nameof(IsSuccess));

        if (RequestsPerSecond is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(RequestsPerSecond), RequestsPerSecond, "RequestsPerSecond must be positive (or null for as fast as possible).");
        }
    }
}
