using Mesh.Discovery.Internal;
using Mesh.Health.Internal;
using Mesh.Http.Internal;
using Mesh.LoadBalancing.Internal;
using Mesh.Telemetry.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Services.Internal;

/// <summary>What every service of the mesh shares: the clock, a logger per component, the metrics and the health
/// event. Created once by the registry.</summary>
internal sealed class MeshEnvironment
{
    public MeshEnvironment(TimeProvider time, ILoggerFactory? loggerFactory = null, MeshMetrics? metrics = null)
    {
        Time = time;
        Frequency = time.TimestampFrequency;
        loggerFactory ??= NullLoggerFactory.Instance;
        HealthLogger = loggerFactory.CreateLogger(HealthLog.Category);
        DiscoveryLogger = loggerFactory.CreateLogger(DiscoveryLog.Category);
        HttpLogger = loggerFactory.CreateLogger(HttpLog.Category);
        RegistryLogger = loggerFactory.CreateLogger(RegistryLog.Category);
        LoadBalancingLogger = loggerFactory.CreateLogger(LoadBalancingLog.Category);
        Metrics = metrics ?? new MeshMetrics(null);
    }

    public TimeProvider Time { get; }

    /// <summary>Timestamp ticks per second.</summary>
    public double Frequency { get; }

    /// <summary>Category <c>Mesh.Health</c>: ejections, returns, health checks, panic.</summary>
    public ILogger HealthLogger { get; }

    /// <summary>Category <c>Mesh.Discovery</c>: endpoint sets and their sources.</summary>
    public ILogger DiscoveryLogger { get; }

    /// <summary>Category <c>Mesh.Http</c>: the request path.</summary>
    public ILogger HttpLogger { get; }

    /// <summary>Category <c>Mesh.Configuration</c>: configuration applied or refused.</summary>
    public ILogger RegistryLogger { get; }

    public MeshMetrics Metrics { get; }

    /// <summary>The load balancers services can name: the built-in ones and those registered with <c>AddMeshLoadBalancer</c>.</summary>
    public LoadBalancerCatalog Balancers { get; init; } = LoadBalancerCatalog.BuiltIn;

    /// <summary>Category <c>Mesh.LoadBalancing</c>: custom balancers that fail.</summary>
    public ILogger LoadBalancingLogger { get; }

    /// <summary>Whether the workload has an identity for mutual TLS (then plain-http endpoints are worth a warning).</summary>
    public bool HasIdentity { get; init; }

    /// <summary>Raised for each endpoint health change, outside any service lock.</summary>
    public event Action<MeshEndpointHealthChangedEventArgs>? HealthChanged;

    public long Now() => Time.GetTimestamp();

    public long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Frequency);

    public TimeSpan Span(double ticks) => TimeSpan.FromSeconds(ticks / Frequency);

    /// <summary>Raises <see cref="HealthChanged"/>; a handler's exception is logged and swallowed.</summary>
    public void Raise(MeshEndpointHealthChangedEventArgs change)
    {
        try
        {
            HealthChanged?.Invoke(change);
        }
        catch (Exception ex)
        {
            HealthLog.EventHandlerFailed(HealthLogger, ex);
        }
    }
}
