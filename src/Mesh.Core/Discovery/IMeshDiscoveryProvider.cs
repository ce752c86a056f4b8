namespace Mesh.Discovery;

/// <summary>
/// A push-based source of endpoints. The mesh calls <see cref="Watch"/> once per service whose
/// <c>Mesh:Services:{name}:Discovery</c> names this provider; the provider then publishes complete endpoint sets
/// through the context whenever they change. The mesh swaps each set in atomically and keeps the statistics and
/// health of endpoints that stay. Implementations must be thread-safe and must not throw from <see cref="Watch"/>
/// for failures of the backing registry: report them with <see cref="MeshDiscoveryContext.ReportFailure"/>
/// so that the last known good set stays in use.
/// </summary>
public interface IMeshDiscoveryProvider
{
    /// <summary>The name used in <c>Mesh:Services:{name}:Discovery</c>, for example <c>Dns</c>, <c>Etcd</c> or <c>Docker</c>.
    /// Compared case-insensitively.</summary>
    string Name { get; }

    /// <summary>Starts watching one service. Returns quickly; the watch runs in the background until disposed.</summary>
    /// <param name="context">The service being watched and where to publish its endpoints.</param>
    /// <returns>A handle that stops the watch and releases its resources when disposed.</returns>
    IAsyncDisposable Watch(MeshDiscoveryContext context);
}

/// <summary>Receives what a discovery provider learns about one service.</summary>
public interface IMeshEndpointSink
{
    /// <summary>Replaces the provider's complete set of endpoints for the service.</summary>
    /// <param name="endpoints">Every endpoint the provider knows now (an empty set is valid: the service has none).</param>
    void Publish(IReadOnlyList<MeshEndpoint> endpoints);

    /// <summary>Reports that the provider could not refresh the service; the last published set stays in use.</summary>
    /// <param name="error">What went wrong, for logs and health reports.</param>
    void ReportFailure(Exception error);
}

/// <summary>What a <see cref="IMeshDiscoveryProvider"/> is asked to watch, and where it publishes.</summary>
public sealed class MeshDiscoveryContext : IMeshEndpointSink
{
    private readonly IMeshEndpointSink _sink;

    /// <summary>Creates a context. The mesh creates one per watched service; tests of providers create their own.</summary>
    /// <param name="serviceName">The logical service name, for example <c>catalog</c>.</param>
    /// <param name="configuration">The service's configuration section (<c>Mesh:Services:{name}</c>); empty when the service is configured in code.</param>
    /// <param name="sink">Where endpoint sets and failures go.</param>
    public MeshDiscoveryContext(string serviceName, Microsoft.Extensions.Configuration.IConfiguration configuration, IMeshEndpointSink sink)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(sink);
        ServiceName = serviceName;
        Configuration = configuration;
        _sink = sink;
    }

    /// <summary>The logical service name.</summary>
    public string ServiceName { get; }

    /// <summary>The service's configuration section (<c>Mesh:Services:{name}</c>), where provider-specific keys live
    /// (for example <c>Dns:Name</c>).</summary>
    public Microsoft.Extensions.Configuration.IConfiguration Configuration { get; }

    /// <inheritdoc />
    public void Publish(IReadOnlyList<MeshEndpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        _sink.Publish(endpoints);
    }

    /// <inheritdoc />
    public void ReportFailure(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        _sink.ReportFailure(error);
    }
}
