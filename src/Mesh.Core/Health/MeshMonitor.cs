using Mesh.Services.Internal;

namespace Mesh;

/// <summary>
/// Observes the mesh: a snapshot of every service and endpoint with its health and why, and an event for each
/// ejection, return and health change. Registered as a singleton by <c>AddMeshClient</c>.
/// </summary>
public sealed class MeshMonitor
{
    private readonly MeshRegistry _registry;

    internal MeshMonitor(MeshRegistry registry)
    {
        _registry = registry;
        registry.Environment.HealthChanged += change => EndpointHealthChanged?.Invoke(this, change);
    }

    /// <summary>Raised for each endpoint state change (ejected, probing, returned, unhealthy). Handlers run on the
    /// thread that observed the change and must be quick; exceptions they throw are logged and swallowed.</summary>
    public event EventHandler<MeshEndpointHealthChangedEventArgs>? EndpointHealthChanged;

    /// <summary>The names of the services the mesh routes to.</summary>
    public IReadOnlyList<string> ServiceNames => [.. _registry.ServiceNames.Order(StringComparer.Ordinal)];

    /// <summary>A snapshot of every service.</summary>
    public IReadOnlyList<MeshServiceSnapshot> GetSnapshot() =>
        [.. _registry.Services.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => s.CreateSnapshot())];

    /// <summary>A snapshot of one service.</summary>
    /// <param name="serviceName">The service name (case-insensitive).</param>
    /// <exception cref="MeshServiceNotFoundException">The service is not configured.</exception>
    public MeshServiceSnapshot GetService(string serviceName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        return _registry.TryGetService(serviceName.ToLowerInvariant(), out var service)
            ? service.CreateSnapshot()
            : throw new MeshServiceNotFoundException(serviceName, _registry.ServiceNames);
    }
}
