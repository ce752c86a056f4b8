using Mesh.Configuration.Internal;
using Mesh.Identity;
using Mesh.LoadBalancing.Internal;

namespace Mesh.Services.Internal;

/// <summary>
/// One service's settings, compiled once per configuration (re)load from the mutable <see cref="MeshServiceOptions"/>
/// into an immutable object: time spans as <see cref="TimeProvider"/> ticks, the server identity parsed, the static
/// endpoints built. Every part of the service reads the same instance, swapped atomically on reload.
/// </summary>
internal sealed class ServiceSettings
{
    private ServiceSettings(string name, MeshServiceOptions options, in MeshDefaults mesh, double frequency, ServiceSettings? previous, LoadBalancerCatalog? balancers)
    {
        Name = name;
        Options = options;
        Zone = mesh.Zone;
        RequiresMutualTls = MeshOptionsValidator.RequiresMutualTls(options, mesh.RequireMutualTls);
        DiscoveryTimeout = options.DiscoveryTimeout ?? mesh.DiscoveryTimeout ?? TimeSpan.FromSeconds(5);
        LoadBalancer = options.LoadBalancer;
        Balancer = (balancers ?? LoadBalancerCatalog.BuiltIn).Get(options.LoadBalancerName, name);
        BalancerName = Balancer.Name;
        Frequency = frequency;
        Picker = new PickerSettings(Ticks(options.PeakEwma.DecayTime, frequency), Ticks(options.PeakEwma.DefaultRtt, frequency));
        BalancerInputs = new BalancerInputs(name, Picker, frequency);
        var od = options.OutlierDetection;
        Outlier = new OutlierSettings(
            od.ConsecutiveFailures,
            od.FailureKinds,
            od.FailureRateThreshold,
            od.FailureRateMinimumRequests,
            Math.Max(1, Ticks(od.FailureRateWindow, frequency) / 2),
            od.BaseEjectionTime,
            od.MaxEjectionTime,
            Ticks(od.BaseEjectionTime, frequency),
            od.MaxEjectionPercent);
        var slow = options.SlowStart;
        SlowStart = new SlowStartSettings(Ticks(slow.Window, frequency), slow.MinWeightPercent / 100.0, slow.Aggression, (long)frequency);
        PanicThreshold = options.PanicThreshold;
        AttemptTimeout = options.AttemptTimeout;
        HashHeader = options.HashHeader;
        UsesHashing = Balancer.UsesHashKey;
        HttpMeansHttpFirst = options.FromServiceDiscoveryConfiguration;
        EndpointLabels = options.EndpointLabels;
        var identity = options.ServerIdentity is null ? null : SpiffeIdPattern.Parse(options.ServerIdentity);
        ServerIdentity = previous is not null && Equals(previous.ServerIdentity, identity) ? previous.ServerIdentity : identity;
        Split = options.TrafficSplit.Enabled
            ? new TrafficSplitSettings(options.TrafficSplit.MetadataKey!, [.. options.TrafficSplit.Weights.Select(w => (w.Key, w.Value))])
            : null;
        DiscoverySources = MeshOptionsValidator.ParseDiscovery(options.Discovery);
        DiscoveryProviders = [.. DiscoverySources.Where(s => !s.Equals(MeshServiceOptions.ConfigurationDiscoveryName, StringComparison.OrdinalIgnoreCase))];
        UsesConfiguration = DiscoverySources.Contains(MeshServiceOptions.ConfigurationDiscoveryName, StringComparer.OrdinalIgnoreCase);
        ConfiguredEndpoints = UsesConfiguration
            ? [.. options.Endpoints.Select(e => new MeshEndpoint(e.Address, e.Weight, e.Zone, e.Metadata.Count == 0 ? null : new Dictionary<string, string>(e.Metadata)))]
            : [];
        RetryBudget = (options.RetryBudget.RetryRatio, options.RetryBudget.MinRetriesPerSecond, options.RetryBudget.Window);
        var hedging = options.Hedging;
        Hedging = new HedgingSettings(hedging.Enabled, hedging.DelayPercentile, hedging.MinDelay, hedging.MaxDelay, hedging.BudgetRatio, hedging.MinHedgesPerSecond, hedging.Window);
    }

    /// <summary>The service's name (lower case).</summary>
    public string Name { get; }

    /// <summary>The options these settings were compiled from (health checks and discovery read them directly).</summary>
    public MeshServiceOptions Options { get; }

    /// <summary>The zone of this process (<c>Mesh:Zone</c>), or null.</summary>
    public string? Zone { get; }

    /// <summary>Whether only <c>https</c> endpoints may receive this service's requests (see
    /// <see cref="MeshOptionsValidator.RequiresMutualTls"/>).</summary>
    public bool RequiresMutualTls { get; }

    /// <summary>The built-in kind last set (meaningful when <see cref="Balancer"/> is a built-in one).</summary>
    public LoadBalancerKind LoadBalancer { get; }

    /// <summary>The balancer, built-in or registered (<c>LoadBalancer</c>).</summary>
    public MeshLoadBalancer Balancer { get; }

    /// <summary>The balancer's registered name.</summary>
    public string BalancerName { get; }

    /// <summary>What the balancer's pickers are built with.</summary>
    public BalancerInputs BalancerInputs { get; }

    /// <summary>Timestamp ticks per second.</summary>
    public double Frequency { get; }

    public PickerSettings Picker { get; }

    public OutlierSettings Outlier { get; }

    public SlowStartSettings SlowStart { get; }

    public int PanicThreshold { get; }

    public TimeSpan? AttemptTimeout { get; }

    public string? HashHeader { get; }

    public bool UsesHashing { get; }

    /// <summary>Whether a logical <c>http://</c> URI prefers the service's http endpoints (a service read from the
    /// <c>Services</c> section, as Microsoft.Extensions.ServiceDiscovery reads it) rather than taking any endpoint.</summary>
    public bool HttpMeansHttpFirst { get; }

    public bool EndpointLabels { get; }

    /// <summary>The identity the service's endpoints must prove over mTLS; null: any ID of the workload's trust domain.
    /// The same instance as in the previous settings when it did not change (so connection pools can compare by reference).</summary>
    public SpiffeIdPattern? ServerIdentity { get; }

    public TrafficSplitSettings? Split { get; }

    /// <summary>The discovery sources, in configured order (<c>Configuration</c> among them when listed).</summary>
    public string[] DiscoverySources { get; }

    /// <summary>The discovery sources other than <c>Configuration</c>: providers that resolve endpoints at run time.</summary>
    public string[] DiscoveryProviders { get; }

    /// <summary>How long a request waits for the first endpoint set while providers are still resolving it.</summary>
    public TimeSpan DiscoveryTimeout { get; }

    public bool UsesConfiguration { get; }

    /// <summary>The endpoints listed under <c>Endpoints</c>, when <c>Configuration</c> is a source.</summary>
    public IReadOnlyList<MeshEndpoint> ConfiguredEndpoints { get; }

    public (double Ratio, int MinPerSecond, TimeSpan Window) RetryBudget { get; }

    /// <summary>Mesh-aware hedging (<c>Hedging:*</c>).</summary>
    public HedgingSettings Hedging { get; }

    /// <summary>Compiles <paramref name="options"/>; <paramref name="previous"/> lets unchanged parts keep their instances.</summary>
    /// <remarks><c>balancers</c> are the registered load balancers (<see langword="null"/>: the built-in ones only); an
    /// unregistered name throws <see cref="InvalidOperationException"/> (validation reports it first in an app).</remarks>
    public static ServiceSettings Compile(string name, MeshServiceOptions options, in MeshDefaults mesh, double frequency, ServiceSettings? previous = null, LoadBalancerCatalog? balancers = null) =>
        new(name, options, mesh, frequency, previous, balancers);

    private static long Ticks(TimeSpan span, double frequency) => (long)(span.TotalSeconds * frequency);
}

/// <summary>Mesh-wide settings a service inherits: <c>Mesh:Zone</c>, <c>Mesh:RequireMutualTls</c>, <c>Mesh:DiscoveryTimeout</c>.</summary>
internal readonly record struct MeshDefaults(string? Zone = null, bool RequireMutualTls = false, TimeSpan? DiscoveryTimeout = null)
{
    public static MeshDefaults From(MeshOptions options) => new(options.Zone, options.RequireMutualTls, options.DiscoveryTimeout);
}

/// <summary>Hedging settings (<c>Hedging:*</c>).</summary>
internal readonly record struct HedgingSettings(bool Enabled, double DelayPercentile, TimeSpan MinDelay, TimeSpan MaxDelay, double BudgetRatio, int MinHedgesPerSecond, TimeSpan Window)
{
    /// <summary>The percentile the delay is taken at: <see cref="DelayPercentile"/>, raised so that the delay by itself
    /// sends hedges for at most half of what the budget allows (<c>100 - 50 × BudgetRatio</c>, at most 99.9).</summary>
    public double EffectivePercentile => EffectivePercentileFor(DelayPercentile, BudgetRatio);

    /// <summary>A delay at the pth percentile hedges about (100 - p)% of requests. When that is more than the budget
    /// allows, the healthy tail spends the budget first and the outliers hedging is for (a stuck replica, a slow
    /// answer) come to a spent budget and are not hedged (measured: p95 with a 5% budget left p99 at 9.4x of the
    /// all-healthy p99 under a replica slow on 10% of answers; the 97.5th brought it to about 2x). So the delay never
    /// aims at more than half the budget.</summary>
    public static double EffectivePercentileFor(double percentile, double budgetRatio) =>
        Math.Min(99.9, Math.Max(percentile, 100 - (50 * budgetRatio)));
}

/// <summary>Outlier detection settings in ticks (<c>OutlierDetection:*</c>).</summary>
internal readonly record struct OutlierSettings(
    int ConsecutiveFailures,
    OutlierFailureKinds FailureKinds,
    int FailureRateThreshold,
    int FailureRateMinimumRequests,
    long FailureRateHalfWindowTicks,
    TimeSpan BaseEjectionTime,
    TimeSpan MaxEjectionTime,
    long BaseEjectionTicks,
    int MaxEjectionPercent);

/// <summary>Slow start settings (<c>SlowStart:*</c>): the window in ticks (0: off), the smallest factor, the aggression,
/// and one second in ticks (the longest interval between weight refreshes during a ramp).</summary>
internal readonly record struct SlowStartSettings(long WindowTicks, double MinFactor, double Aggression, long SecondTicks);

/// <summary>A traffic split by metadata (<c>TrafficSplit:*</c>): the metadata key and each group's share.</summary>
internal sealed record TrafficSplitSettings(string MetadataKey, (string Value, int Share)[] Groups);
