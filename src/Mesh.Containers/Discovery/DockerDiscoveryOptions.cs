namespace Mesh.Containers;

/// <summary>Which address of a container becomes the endpoint address.</summary>
public enum DockerDiscoveryAddressMode
{
    /// <summary>The published host port on the engine's host (<see cref="DockerEngine.Host"/>: 127.0.0.1 for an engine on this machine; the default).</summary>
    PublishedPort,

    /// <summary>The container's own address on its network and the container port (reachable from other containers on that network).</summary>
    ContainerAddress,
}

/// <summary>
/// Options of <see cref="DockerDiscoveryProvider"/>. Per service, <c>Mesh:Services:{name}:Docker</c> may override
/// <c>AddressMode</c> (a member name), <c>Port</c>, <c>Scheme</c> and <c>Network</c>, validated on start; per container, labels may set
/// <c>mesh.port</c>, <c>mesh.scheme</c>, <c>mesh.weight</c>, <c>mesh.zone</c> and <c>mesh.metadata.*</c>.
/// </summary>
public sealed class DockerDiscoveryOptions
{
    /// <summary>How to reach the engine.</summary>
    public DockerEngineOptions Engine { get; set; } = new();

    /// <summary>The label whose value names the service a container belongs to.</summary>
    /// <value><c>mesh.service</c>.</value>
    public string ServiceLabel { get; set; } = "mesh.service";

    /// <summary>Which address becomes the endpoint address.</summary>
    /// <value><see cref="DockerDiscoveryAddressMode.PublishedPort"/>.</value>
    public DockerDiscoveryAddressMode AddressMode { get; set; } = DockerDiscoveryAddressMode.PublishedPort;

    /// <summary>The scheme of endpoint addresses unless a <c>mesh.scheme</c> label says otherwise.</summary>
    /// <value><c>http</c>.</value>
    public string Scheme { get; set; } = "http";

    private static readonly TimeSpan s_maxReconnectDelay = TimeSpan.FromSeconds(30);
    private TimeSpan? _maxReconnectDelay;

    /// <summary>The first wait before reconnecting after the engine or its event stream failed; doubled per failure.</summary>
    /// <value>500 milliseconds.</value>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait before reconnecting.</summary>
    /// <value>30 seconds, or <see cref="ReconnectDelay"/> when that is set longer.</value>
    public TimeSpan MaxReconnectDelay
    {
        get => _maxReconnectDelay ?? (ReconnectDelay > s_maxReconnectDelay ? ReconnectDelay : s_maxReconnectDelay);
        set => _maxReconnectDelay = value;
    }
}
