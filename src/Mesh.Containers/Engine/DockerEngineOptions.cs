using Microsoft.Extensions.Logging;

namespace Mesh.Containers;

/// <summary>How <see cref="DockerEngine.ConnectAsync(DockerEngineOptions?, CancellationToken)"/> finds and talks to an engine.</summary>
public sealed class DockerEngineOptions
{
    /// <summary>The engine endpoint, for example <c>unix:///var/run/docker.sock</c> or <c>tcp://127.0.0.1:2375</c>.
    /// When <see langword="null"/> (the default), <c>DOCKER_HOST</c> is used if set; otherwise the default Unix socket,
    /// the rootless socket (<c>$XDG_RUNTIME_DIR/docker.sock</c>), Docker Desktop's socket and the Podman sockets are tried in turn.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>How long one endpoint may take to answer <c>GET /_ping</c>.</summary>
    /// <value>5 seconds.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a single non-streaming engine request may take.</summary>
    /// <value>2 minutes.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The highest Engine API version to use even when the engine speaks a higher one; <see langword="null"/>
    /// means <see cref="DockerEngine.MaximumApiVersion"/>.</summary>
    public Version? MaximumApiVersion { get; set; }

    /// <summary>Where the engine client, builds, containers and waits log; <see langword="null"/> logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}
