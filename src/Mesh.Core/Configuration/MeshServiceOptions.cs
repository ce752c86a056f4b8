using Mesh.Configuration.Internal;

namespace Mesh;

/// <summary>How the mesh routes to one logical service (<c>Mesh:Services:{name}</c>).</summary>
public sealed class MeshServiceOptions
{
    private LoadBalancerKind _loadBalancer = LoadBalancerKind.PeakEwma;
    private string? _customLoadBalancer;

    /// <summary>The load balancer, as one of the built-in kinds (<c>LoadBalancer</c>). Setting it selects that built-in
    /// balancer (and sets <see cref="LoadBalancerName"/> to its name).</summary>
    /// <value>Default: <see cref="LoadBalancerKind.PeakEwma"/>. While <see cref="LoadBalancerName"/> names a custom
    /// balancer, this keeps the built-in kind set last and is not used.</value>
    public LoadBalancerKind LoadBalancer
    {
        get => _loadBalancer;
        set
        {
            _loadBalancer = value;
            _customLoadBalancer = null;
        }
    }

    /// <summary>The load balancer by name (<c>LoadBalancer</c> in configuration): a built-in one (the names of
    /// <see cref="LoadBalancerKind"/>) or one registered with <c>services.AddMeshLoadBalancer&lt;TBalancer&gt;()</c>.
    /// Names are compared case-insensitively; an unknown name fails validation, listing the registered ones.</summary>
    /// <value>Default: <c>PeakEwma</c>.</value>
    public string LoadBalancerName
    {
        get => _customLoadBalancer ?? _loadBalancer.ToString();
        set
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value);
            value = value.Trim();
            if (ConfigurationReader.TryEnum<LoadBalancerKind>(value, out var kind))
            {
                LoadBalancer = kind;
            }
            else
            {
                _customLoadBalancer = value;
            }
        }
    }

    /// <summary>Static endpoints (<c>Endpoints</c>); each either an object with <c>Address</c>, <c>Weight</c>,
    /// <c>Zone</c> and <c>Metadata</c>, or a plain address string. One value may hold several addresses separated by
    /// <c>,</c> or <c>;</c>; a plain value (an environment variable, the command line) replaces the list of earlier
    /// configuration providers.</summary>
#pragma warning disable SYSLIB1213 // Each endpoint is validated with the key it was read from (MeshOptionsValidator).
    public IList<MeshEndpointOptions> Endpoints { get; } = new List<MeshEndpointOptions>();
#pragma warning restore SYSLIB1213

    /// <summary>Where endpoints come from (<c>Discovery</c>): <c>Configuration</c> (the <see cref="Endpoints"/> list),
    /// or the name of a registered discovery provider such as <c>Dns</c>, <c>Etcd</c> or <c>Docker</c>.
    /// Several can be combined, separated by commas; their endpoint sets are merged.</summary>
    /// <value>Default: <c>Configuration</c>.</value>
    public string Discovery { get; set; } = ConfigurationDiscoveryName;

    /// <summary>How long a request waits for the service's first endpoint set while its discovery sources are still
    /// resolving it (<c>DiscoveryTimeout</c>), for example right after the app starts. Overrides
    /// <see cref="MeshOptions.DiscoveryTimeout"/>.</summary>
    /// <value>Default: <see langword="null"/> (the mesh-wide <c>Mesh:DiscoveryTimeout</c>, 5 seconds). Allowed: 00:00:00 (never wait) to 00:05:00.</value>
    [AllowedRange("00:00:00", "00:05:00", Allowed = "00:00:00 (never wait) to 00:05:00, or absent for Mesh:DiscoveryTimeout")]
    public TimeSpan? DiscoveryTimeout { get; set; }

    /// <summary>The SPIFFE ID the service's endpoints must present over mTLS (<c>ServerIdentity</c>): an exact ID,
    /// or a prefix ending in <c>/*</c>.</summary>
    /// <value>Default: <see langword="null"/> (any SPIFFE ID of the workload's own trust domain is accepted).</value>
    public string? ServerIdentity { get; set; }

    /// <summary>Whether the service may be reached over plain <c>http</c> although it requires mutual TLS
    /// (<c>AllowPlainHttp</c>). A service requires mutual TLS when it has a <see cref="ServerIdentity"/> or when
    /// <see cref="MeshOptions.RequireMutualTls"/> is on; then a plain-http endpoint fails start-up (from configuration)
    /// or is left out with a warning (from a discovery source), so that no registry write can downgrade the service to
    /// clear text. Set this only as a deliberate exception, for example during a migration: requests to plain-http
    /// endpoints are neither encrypted nor authenticated.</summary>
    /// <value>Default: <see langword="false"/>.</value>
    public bool AllowPlainHttp { get; set; }

    /// <summary>For <see cref="LoadBalancerKind.ConsistentHash"/> (and custom balancers that use a hash key): the request header whose value is the hash key (<c>HashHeader</c>).</summary>
    /// <value>Default: <see langword="null"/> (only <see cref="MeshRequestOptions.HashKey"/> is used; requests without a key are spread at random).</value>
    public string? HashHeader { get; set; }

    /// <summary>When fewer than this percentage of endpoints are healthy, balance over all of them (<c>PanicThreshold</c>).</summary>
    /// <value>Default: 50 (Envoy's and Finagle's default). Allowed: 0 (never panic; fail when no endpoint is healthy) to 100.</value>
    [AllowedRange(0, 100, Allowed = "0 (never) to 100 (percent of endpoints healthy)")]
    public int PanicThreshold { get; set; } = 50;

    /// <summary>A deadline for each attempt sent through the mesh (<c>AttemptTimeout</c>). An attempt that exceeds it
    /// fails with a transient <see cref="HttpRequestException"/> and counts as a timeout for outlier detection.</summary>
    /// <value>Default: <see langword="null"/> (no mesh deadline; the caller's own timeouts apply). Allowed: more than zero.</value>
    [AllowedRange("00:00:00", "10675199.02:48:05.4775807", MinimumIsExclusive = true, Allowed = "more than zero (or absent for no mesh deadline)")]
    public TimeSpan? AttemptTimeout { get; set; }

#pragma warning disable SYSLIB1212 // Each group is validated with its own configuration path (MeshOptionsValidator).

    /// <summary>Active health checks (<c>HealthCheck</c>); off unless a <c>Path</c> (HTTP) or <c>Protocol: Grpc</c> is set.</summary>
    public HealthCheckOptions HealthCheck { get; } = new();

    /// <summary>Passive outlier detection from real request outcomes (<c>OutlierDetection</c>).</summary>
    public OutlierDetectionOptions OutlierDetection { get; } = new();

    /// <summary>Slow start for endpoints that join or return (<c>SlowStart</c>).</summary>
    public SlowStartOptions SlowStart { get; } = new();

    /// <summary>The retry budget (<c>RetryBudget</c>).</summary>
    public RetryBudgetOptions RetryBudget { get; } = new();

    /// <summary>Mesh-aware hedging (<c>Hedging</c>): whether the mesh hedges the service's requests itself, the delay
    /// of those hedges and of <c>AddMeshHedging()</c>'s, and the budget every hedged attempt of this service is charged to.</summary>
    public HedgingOptions Hedging { get; } = new();

    /// <summary>Peak-EWMA tuning (<c>PeakEwma</c>).</summary>
    public PeakEwmaOptions PeakEwma { get; } = new();
#pragma warning restore SYSLIB1212

    /// <summary>A split of traffic between groups of endpoints by metadata (<c>TrafficSplit</c>), for canaries.</summary>
    public TrafficSplitOptions TrafficSplit { get; } = new();

    /// <summary>Whether the service's metrics carry endpoint labels (<c>server.address</c>, <c>server.port</c>)
    /// (<c>Telemetry:EndpointLabels</c>). Turn off for services with many endpoints to bound cardinality.</summary>
    /// <value>Default: <see langword="true"/>.</value>
    public bool EndpointLabels { get; set; } = true;

    /// <summary>Whether the service was read from Microsoft.Extensions.ServiceDiscovery's <c>Services</c> section (then a
    /// logical <c>http://</c> URI means what it means there: the service's http endpoints while it has any).</summary>
    internal bool FromServiceDiscoveryConfiguration { get; set; }

    /// <summary>The discovery name that means "the <see cref="Endpoints"/> list".</summary>
    public const string ConfigurationDiscoveryName = "Configuration";
}

/// <summary>A static endpoint (<c>Mesh:Services:{name}:Endpoints:{i}</c>).</summary>
public sealed class MeshEndpointOptions
{
    /// <summary>The endpoint's address, <c>scheme://host:port</c> (<c>Address</c>, required).</summary>
    public string Address { get; set; } = "";

    /// <summary>The relative share of traffic (<c>Weight</c>).</summary>
    /// <value>Default: 1. Allowed: a positive integer.</value>
    [AllowedRange(1, int.MaxValue, Allowed = "a positive integer (default 1); list each address once and use Weight for a larger share")]
    public int Weight { get; set; } = 1;

    /// <summary>The zone the endpoint runs in (<c>Zone</c>).</summary>
    public string? Zone { get; set; }

    /// <summary>Free-form labels (<c>Metadata</c>), for example <c>version=v1</c>.</summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The configuration key the endpoint was read from (for messages); <see langword="null"/> when added in code.</summary>
    internal string? SourcePath { get; init; }

    /// <summary>Whether the endpoint was read from a plain address value (so its key is <see cref="SourcePath"/> itself).</summary>
    internal bool PlainAddress { get; init; }
}

/// <summary>Active health checking of a service's endpoints (<c>Mesh:Services:{name}:HealthCheck</c>).
/// Defaults follow YARP's active checks, with a shorter interval suited to a client-side mesh.</summary>
public sealed class HealthCheckOptions
{
    /// <summary>The HTTP path probed on each endpoint (<c>Path</c>); a 2xx answer is healthy.</summary>
    /// <value>Default: <see langword="null"/> (no HTTP checks).</value>
    public string? Path { get; set; }

    /// <summary>The protocol of the check (<c>Protocol</c>): <see cref="HealthCheckProtocol.Http"/>, or
    /// <see cref="HealthCheckProtocol.Grpc"/> for the standard <c>grpc.health.v1.Health/Check</c>.</summary>
    /// <value>Default: <see cref="HealthCheckProtocol.Http"/>.</value>
    public HealthCheckProtocol Protocol { get; set; } = HealthCheckProtocol.Http;

    /// <summary>For gRPC checks, the service name sent in the request (<c>GrpcService</c>).</summary>
    /// <value>Default: empty (the server's overall health).</value>
    public string GrpcService { get; set; } = "";

    /// <summary>The default of <see cref="Timeout"/> when <see cref="Interval"/> is not shorter.</summary>
    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(2);

    private TimeSpan? _timeout;

    /// <summary>Time between checks of an endpoint (<c>Interval</c>), shortened by up to 10% of jitter. A check still
    /// running when the next is due delays it: two checks of one endpoint never overlap.</summary>
    /// <value>Default: 5 seconds. Allowed: 100 ms to 1 hour.</value>
    [AllowedRange("00:00:00.100", "01:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a check may take before it counts as failed (<c>Timeout</c>). It may exceed
    /// <see cref="Interval"/> (as Kubernetes probes and Envoy allow): the next check of the endpoint then waits for the
    /// previous one.</summary>
    /// <value>Default: 2 seconds, or <see cref="Interval"/> when that is shorter. Allowed: more than zero, up to 1 hour.</value>
    [AllowedRange("00:00:00", "01:00:00", MinimumIsExclusive = true)]
    public TimeSpan Timeout
    {
        get => _timeout ?? (Interval < s_defaultTimeout ? Interval : s_defaultTimeout);
        set => _timeout = value;
    }

    /// <summary>Consecutive failed checks that mark an endpoint unhealthy (<c>UnhealthyThreshold</c>).</summary>
    /// <value>Default: 2 (YARP). Allowed: 1 to 100.</value>
    [AllowedRange(1, 100)]
    public int UnhealthyThreshold { get; set; } = 2;

    /// <summary>Consecutive passed checks that mark an unhealthy endpoint healthy again (<c>HealthyThreshold</c>).</summary>
    /// <value>Default: 1. Allowed: 1 to 100.</value>
    [AllowedRange(1, 100)]
    public int HealthyThreshold { get; set; } = 1;

    /// <summary>Whether checks run: true when <see cref="Path"/> is set or <see cref="Protocol"/> is gRPC.</summary>
    public bool Enabled => Path is not null || Protocol == HealthCheckProtocol.Grpc;
}

/// <summary>The protocol of active health checks.</summary>
public enum HealthCheckProtocol
{
    /// <summary>An HTTP GET of <see cref="HealthCheckOptions.Path"/>; 2xx is healthy.</summary>
    Http = 0,

    /// <summary>The standard gRPC health check, <c>grpc.health.v1.Health/Check</c>; SERVING is healthy.</summary>
    Grpc,
}

/// <summary>Which request outcomes count as failures for outlier detection.</summary>
[Flags]
public enum OutlierFailureKinds
{
    /// <summary>Nothing counts.</summary>
    None = 0,

    /// <summary>The connection could not be made, or broke before a response (refused, reset, TLS failure).</summary>
    ConnectionFailure = 1,

    /// <summary>The attempt exceeded <see cref="MeshServiceOptions.AttemptTimeout"/>.</summary>
    Timeout = 2,

    /// <summary>A 5xx response.</summary>
    ServerError = 4,

    /// <summary>The caller cancelled the attempt (for example an outer timeout or a hedged attempt that lost).
    /// Off by default, since a cancellation says more about the caller than about the endpoint.</summary>
    Cancellation = 8,
}

/// <summary>gRPC status codes, as a set (<c>OutlierDetection:GrpcStatusCodes</c>): bit <c>1 &lt;&lt; code</c> for each code.
/// Names are the C# names of <c>Grpc.Core.StatusCode</c>; configuration also takes the canonical gRPC spelling
/// (<c>UNAVAILABLE</c>, <c>DEADLINE_EXCEEDED</c>). <c>OK</c> is never a failure and has no member.</summary>
[Flags]
public enum GrpcStatusCodes
{
    /// <summary>No status counts: gRPC calls are judged by HTTP alone, as before gRPC statuses were read.</summary>
    None = 0,

    /// <summary>1, CANCELLED.</summary>
    Cancelled = 1 << 1,

    /// <summary>2, UNKNOWN (Envoy: HTTP 500).</summary>
    Unknown = 1 << 2,

    /// <summary>3, INVALID_ARGUMENT.</summary>
    InvalidArgument = 1 << 3,

    /// <summary>4, DEADLINE_EXCEEDED (Envoy: HTTP 504); counts as a <see cref="OutlierFailureKinds.Timeout"/>.</summary>
    DeadlineExceeded = 1 << 4,

    /// <summary>5, NOT_FOUND.</summary>
    NotFound = 1 << 5,

    /// <summary>6, ALREADY_EXISTS.</summary>
    AlreadyExists = 1 << 6,

    /// <summary>7, PERMISSION_DENIED.</summary>
    PermissionDenied = 1 << 7,

    /// <summary>8, RESOURCE_EXHAUSTED (Envoy: HTTP 429).</summary>
    ResourceExhausted = 1 << 8,

    /// <summary>9, FAILED_PRECONDITION.</summary>
    FailedPrecondition = 1 << 9,

    /// <summary>10, ABORTED.</summary>
    Aborted = 1 << 10,

    /// <summary>11, OUT_OF_RANGE.</summary>
    OutOfRange = 1 << 11,

    /// <summary>12, UNIMPLEMENTED (Envoy: HTTP 501).</summary>
    Unimplemented = 1 << 12,

    /// <summary>13, INTERNAL (Envoy: HTTP 500).</summary>
    Internal = 1 << 13,

    /// <summary>14, UNAVAILABLE (Envoy: HTTP 503).</summary>
    Unavailable = 1 << 14,

    /// <summary>15, DATA_LOSS (Envoy: HTTP 500).</summary>
    DataLoss = 1 << 15,

    /// <summary>16, UNAUTHENTICATED.</summary>
    Unauthenticated = 1 << 16,
}

/// <summary>Passive outlier detection (<c>Mesh:Services:{name}:OutlierDetection</c>), after Envoy's.</summary>
public sealed class OutlierDetectionOptions
{
    /// <summary>Consecutive failures that eject an endpoint (<c>ConsecutiveFailures</c>); 0 turns this rule off.</summary>
    /// <value>Default: 5 (Envoy). Allowed: 0 to 1000.</value>
    [AllowedRange(0, 1000)]
    public int ConsecutiveFailures { get; set; } = 5;

    /// <summary>The default of <see cref="MaxEjectionTime"/> when <see cref="BaseEjectionTime"/> is not longer.</summary>
    private static readonly TimeSpan s_defaultMaxEjectionTime = TimeSpan.FromSeconds(300);

    private TimeSpan? _maxEjectionTime;

    /// <summary>The ejection time for a first ejection (<c>BaseEjectionTime</c>); the n-th ejection in a row lasts n times as long.</summary>
    /// <value>Default: 30 seconds (Envoy). Allowed: more than zero.</value>
    [AllowedRange("00:00:00", "10675199.02:48:05.4775807", MinimumIsExclusive = true, Allowed = "more than zero")]
    public TimeSpan BaseEjectionTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest ejection (<c>MaxEjectionTime</c>).</summary>
    /// <value>Default: 300 seconds, or <see cref="BaseEjectionTime"/> when that is longer (Envoy). Allowed: at least
    /// <see cref="BaseEjectionTime"/>.</value>
    public TimeSpan MaxEjectionTime
    {
        get => _maxEjectionTime ?? (BaseEjectionTime > s_defaultMaxEjectionTime ? BaseEjectionTime : s_defaultMaxEjectionTime);
        set => _maxEjectionTime = value;
    }

    /// <summary>The largest share of a service's endpoints that may be ejected at once (<c>MaxEjectionPercent</c>);
    /// one endpoint may always be ejected.</summary>
    /// <value>Default: 50. Allowed: 0 to 100. (Envoy's default is 10, which for the 3–5 replicas typical of a
    /// client-side mesh still ejects only one.)</value>
    [AllowedRange(0, 100)]
    public int MaxEjectionPercent { get; set; } = 50;

    /// <summary>The outcomes that count as failures (<c>FailureKinds</c>: names separated by <c>,</c>, <c>;</c> or <c>|</c>, or an array).</summary>
    /// <value>Default: <c>ConnectionFailure, Timeout, ServerError</c>.</value>
    public OutlierFailureKinds FailureKinds { get; set; } = OutlierFailureKinds.ConnectionFailure | OutlierFailureKinds.Timeout | OutlierFailureKinds.ServerError;

    /// <summary>The gRPC statuses that are failures of the endpoint (<c>GrpcStatusCodes</c>: names separated by <c>,</c>,
    /// <c>;</c> or <c>|</c>, or an array; <c>None</c> for none). The status comes from a trailers-only response or from
    /// the trailers after the replies. <c>DeadlineExceeded</c> counts as a <see cref="OutlierFailureKinds.Timeout"/>, the
    /// others as a <see cref="OutlierFailureKinds.ServerError"/>, so <see cref="FailureKinds"/> still decides whether they
    /// count. Any other status (<c>NotFound</c>, <c>InvalidArgument</c>, <c>PermissionDenied</c>...) is the application's
    /// answer, a success of the endpoint.</summary>
    /// <value>Default: the statuses Envoy maps to 5xx: <c>Unknown, DeadlineExceeded, Unimplemented, Internal, Unavailable, DataLoss</c>.</value>
    public GrpcStatusCodes GrpcStatusCodes { get; set; } = DefaultGrpcStatusCodes;

    /// <summary>The default of <see cref="GrpcStatusCodes"/>: what Envoy maps to HTTP 5xx.</summary>
    internal const GrpcStatusCodes DefaultGrpcStatusCodes = GrpcStatusCodes.Unknown | GrpcStatusCodes.DeadlineExceeded | GrpcStatusCodes.Unimplemented |
        GrpcStatusCodes.Internal | GrpcStatusCodes.Unavailable | GrpcStatusCodes.DataLoss;

    /// <summary>Every defined status bit.</summary>
    internal const GrpcStatusCodes AllGrpcStatusCodes = (GrpcStatusCodes)((1 << 17) - 2);

    /// <summary>The failure-rate rule: eject when this percentage of requests in <see cref="FailureRateWindow"/> failed
    /// (<c>FailureRateThreshold</c>); 0 turns the rule off.</summary>
    /// <value>Default: 0 (off). Allowed: 0 to 100.</value>
    [AllowedRange(0, 100)]
    public int FailureRateThreshold { get; set; }

    /// <summary>The fewest requests in the window before the failure-rate rule may eject (<c>FailureRateMinimumRequests</c>).</summary>
    /// <value>Default: 20. Allowed: 1 to 1,000,000.</value>
    [AllowedRange(1, 1_000_000)]
    public int FailureRateMinimumRequests { get; set; } = 20;

    /// <summary>The window of the failure-rate rule (<c>FailureRateWindow</c>).</summary>
    /// <value>Default: 10 seconds. Allowed: 1 second to 1 hour.</value>
    [AllowedRange("00:00:01", "01:00:00")]
    public TimeSpan FailureRateWindow { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Slow start (<c>Mesh:Services:{name}:SlowStart</c>), after Envoy's: an endpoint that joins or returns from
/// ejection gets weight × max(<see cref="MinWeightPercent"/>%, (t / <see cref="Window"/>)^(1 / <see cref="Aggression"/>)).</summary>
public sealed class SlowStartOptions
{
    /// <summary>The ramp-up window (<c>Window</c>); zero turns slow start off. Endpoints present when the service is
    /// first configured start at full weight.</summary>
    /// <value>Default: 10 seconds. Allowed: zero (off) to 1 hour.</value>
    [AllowedRange("00:00:00", "01:00:00", Allowed = "00:00:00 (off) to 01:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The ramp's curvature (<c>Aggression</c>); 1 is linear, larger values ramp faster at first.</summary>
    /// <value>Default: 1.0. Allowed: more than 0, up to 100.</value>
    [AllowedRange(0.0, 100.0, MinimumIsExclusive = true, Allowed = "more than 0, up to 100 (1 is linear)")]
    public double Aggression { get; set; } = 1.0;

    /// <summary>The smallest weight during the ramp, as a percentage of the full weight (<c>MinWeightPercent</c>).</summary>
    /// <value>Default: 10. Allowed: 1 to 100.</value>
    [AllowedRange(1, 100)]
    public int MinWeightPercent { get; set; } = 10;
}

/// <summary>The retry budget (<c>Mesh:Services:{name}:RetryBudget</c>), after Linkerd and Finagle: retries may be at
/// most <see cref="RetryRatio"/> of the requests in <see cref="Window"/>, plus <see cref="MinRetriesPerSecond"/>.</summary>
public sealed class RetryBudgetOptions
{
    /// <summary>Retries allowed per request (<c>RetryRatio</c>); a negative value (for example -1) turns the budget off.</summary>
    /// <value>Default: 0.2 (Linkerd). Allowed: up to 10; negative for off.</value>
    [AllowedRange(double.MinValue, 10.0, Allowed = "0 to 10, or a negative value (-1) to turn the budget off")]
    public double RetryRatio { get; set; } = 0.2;

    /// <summary>Retries always allowed per second, whatever the traffic (<c>MinRetriesPerSecond</c>).</summary>
    /// <value>Default: 10 (Linkerd). Allowed: 0 to 100,000.</value>
    [AllowedRange(0, 100_000)]
    public int MinRetriesPerSecond { get; set; } = 10;

    /// <summary>The window over which requests and retries are counted (<c>Window</c>).</summary>
    /// <value>Default: 10 seconds. Allowed: 1 second to 10 minutes.</value>
    [AllowedRange("00:00:01", "00:10:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Mesh-aware hedging (<c>Mesh:Services:{name}:Hedging</c>), after "The Tail at Scale" (Dean and Barroso, 2013): send a
/// second copy of a request once the first has waited longer than a high percentile of the service's recent latency,
/// to an endpoint no other attempt of the request uses, within a budget of extra requests. The mesh sends such copies
/// itself with <see cref="Enabled"/>; the delay also applies to clients set up with
/// <c>AddStandardHedgingHandler().AddMeshHedging()</c>; the budget and the choice of a different endpoint apply to every
/// hedged attempt that reaches the mesh.
/// </summary>
public sealed class HedgingOptions
{
    /// <summary>Whether the mesh itself hedges the service's requests (<c>Enabled</c>): a <c>GET</c>, <c>HEAD</c> or
    /// <c>OPTIONS</c> request without content that has not answered after the hedging delay (the
    /// <see cref="DelayPercentile"/>th percentile of recent attempts, within <see cref="MinDelay"/> and <see cref="MaxDelay"/>)
    /// gets one copy sent to another endpoint, charged to the hedge budget; the first usable answer wins and the other
    /// attempt is let finish within a second (its connection kept) or cancelled. No hedging handler is needed, and none
    /// of its cost is paid. Requests of a client that hedges on its own (<c>AddStandardHedgingHandler()</c>,
    /// <c>AddMeshHedging()</c>) are left to that handler; <see langword="false"/> does not turn such a handler off.</summary>
    /// <value>Default: <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>The percentile of the service's recent attempt latencies after which a hedge is sent (<c>DelayPercentile</c>).
    /// A delay at the pth percentile hedges about (100 - p)% of requests; the mesh takes it no lower than the
    /// <c>100 - 50 × BudgetRatio</c>th percentile (97.5th with the default 5% budget), so that the healthy tail never
    /// spends more than half the hedge budget and the outliers hedging is for still find budget left.</summary>
    /// <value>Default: 95 (The Tail at Scale). Allowed: 50 to 99.9.</value>
    [AllowedRange(50.0, 99.9)]
    public double DelayPercentile { get; set; } = 95;

    /// <summary>The shortest hedging delay (<c>MinDelay</c>): the percentile is never taken below it.</summary>
    /// <value>Default: 1 millisecond. Allowed: 0 to 00:01:00.</value>
    [AllowedRange("00:00:00", "00:01:00")]
    public TimeSpan MinDelay { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>The longest hedging delay (<c>MaxDelay</c>), also used while too few attempts were measured.</summary>
    /// <value>Default: 2 seconds (the standard hedging handler's fixed delay). Allowed: 00:00:00.001 to 00:10:00, at least <see cref="MinDelay"/>.</value>
    [AllowedRange("00:00:00.001", "00:10:00")]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Hedged attempts allowed per request over <see cref="Window"/> (<c>BudgetRatio</c>); 0.05 means at most
    /// 5% extra requests. When the budget is spent no hedge is sent (and <c>mesh.client.hedges</c> counts it as refused).</summary>
    /// <value>Default: 0.05. Allowed: 0 to 10.</value>
    [AllowedRange(0.0, 10.0)]
    public double BudgetRatio { get; set; } = 0.05;

    /// <summary>Hedged attempts always allowed per second, whatever the traffic (<c>MinHedgesPerSecond</c>).</summary>
    /// <value>Default: 1. Allowed: 0 to 100,000.</value>
    [AllowedRange(0, 100_000)]
    public int MinHedgesPerSecond { get; set; } = 1;

    /// <summary>The window over which latencies are kept and requests and hedges are counted (<c>Window</c>).</summary>
    /// <value>Default: 10 seconds. Allowed: 1 second to 10 minutes.</value>
    [AllowedRange("00:00:01", "00:10:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Peak-EWMA tuning (<c>Mesh:Services:{name}:PeakEwma</c>).</summary>
public sealed class PeakEwmaOptions
{
    /// <summary>The decay time τ of the RTT estimate (<c>DecayTime</c>): how fast it decays towards zero while an
    /// endpoint gets no traffic, and how much a sample weighs when samples are far apart in time.</summary>
    /// <value>Default: 10 seconds (Finagle, Linkerd). Allowed: more than zero.</value>
    [AllowedRange("00:00:00", "10675199.02:48:05.4775807", MinimumIsExclusive = true, Allowed = "more than zero")]
    public TimeSpan DecayTime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The least RTT a failed attempt counts as (<c>DefaultRtt</c>): a failure raises the endpoint's estimate to
    /// at least this at once, so that an endpoint failing fast does not look fast. An endpoint with no trusted
    /// estimate yet is compared on load alone.</summary>
    /// <value>Default: 30 ms (Linkerd's default RTT). Allowed: more than zero.</value>
    [AllowedRange("00:00:00", "10675199.02:48:05.4775807", MinimumIsExclusive = true, Allowed = "more than zero")]
    public TimeSpan DefaultRtt { get; set; } = TimeSpan.FromMilliseconds(30);
}

/// <summary>A split of traffic between groups of endpoints that share a metadata value
/// (<c>Mesh:Services:{name}:TrafficSplit</c>), for canaries: for example <c>MetadataKey: version</c> with
/// <c>Weights: { v1: 90, v2: 10 }</c>. Proportions are exact over every 100 requests (smooth weighted round robin between groups).</summary>
public sealed class TrafficSplitOptions
{
    /// <summary>The metadata key whose value names an endpoint's group (<c>MetadataKey</c>).</summary>
    /// <value>Default: <see langword="null"/> (no split).</value>
    public string? MetadataKey { get; set; }

    /// <summary>The share of traffic per group value (<c>Weights</c>). Endpoints whose value is not listed get no traffic
    /// while a listed group has healthy endpoints; a group without endpoints passes its share to the others.</summary>
    /// <value>Allowed: 0 to 1,000,000 each, at least one positive.</value>
    public IDictionary<string, int> Weights { get; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>Whether a split is configured.</summary>
    public bool Enabled => MetadataKey is not null && Weights.Count > 0;
}
