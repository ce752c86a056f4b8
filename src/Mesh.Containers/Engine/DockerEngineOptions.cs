using Microsoft.Extensions.Logging;

namespace Mesh.Containers;

/// <summary>How <see cref="DockerEngine.ConnectAsync(DockerEngineOptions?, CancellationToken)"/> finds and talks to an engine.
/// Every property left <see langword="null"/> follows the environment as the docker CLI (and Testcontainers) read it:
/// see docs/containers.md, "Where the engine is".</summary>
public sealed class DockerEngineOptions
{
    /// <summary>The engine endpoint, for example <c>unix:///var/run/docker.sock</c>, <c>tcp://127.0.0.1:2375</c> or, with
    /// <see cref="TlsVerify"/>, <c>tcp://docker:2376</c>. When set, it is the only endpoint tried and it is secured by these
    /// options alone (<c>DOCKER_HOST</c>, <c>DOCKER_CONTEXT</c> and <c>DOCKER_TLS_VERIFY</c> are not read).
    /// When <see langword="null"/> (the default): <c>DOCKER_HOST</c> if set; else the current docker context (<see cref="Context"/>,
    /// <c>DOCKER_CONTEXT</c>, or <c>currentContext</c> in <c>~/.docker/config.json</c>) unless it is <c>default</c>; else the default
    /// Unix socket, the rootless socket (<c>$XDG_RUNTIME_DIR/docker.sock</c>), Docker Desktop's socket and the Podman sockets in turn.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Whether a TCP endpoint is reached over TLS, verifying the engine's certificate against <c>ca.pem</c> and presenting
    /// <c>cert.pem</c>/<c>key.pem</c> from <see cref="TlsCertificatePath"/> (the docker CLI's <c>--tlsverify</c>). There is no
    /// mode that accepts any certificate.</summary>
    /// <value><see langword="null"/>: <c>DOCKER_TLS_VERIFY</c> (<c>1</c>/<c>true</c>) for <c>DOCKER_HOST</c>, off for <see cref="Endpoint"/>.
    /// A docker context brings its own TLS material and ignores this.</value>
    public bool? TlsVerify { get; set; }

    /// <summary>The directory holding <c>ca.pem</c>, <c>cert.pem</c> and <c>key.pem</c> for <see cref="TlsVerify"/>.</summary>
    /// <value><see langword="null"/>: <c>DOCKER_CERT_PATH</c>, else the docker configuration directory (<c>DOCKER_CONFIG</c>, else <c>~/.docker</c>).</value>
    public string? TlsCertificatePath { get; set; }

    /// <summary>The docker context to use (the docker CLI's <c>--context</c>), when <see cref="Endpoint"/> and <c>DOCKER_HOST</c> are not set.</summary>
    /// <value><see langword="null"/>: <c>DOCKER_CONTEXT</c>, else <c>currentContext</c> of <c>config.json</c> in the docker configuration directory.</value>
    public string? Context { get; set; }

    /// <summary>The host published container ports are reached on, when it is not the engine's own host (for example the gateway
    /// of a CI job's network, or a tunnel). Ports are then published on all of the engine's interfaces unless it is a loopback address.</summary>
    /// <value><see langword="null"/>: <c>TESTCONTAINERS_HOST_OVERRIDE</c>, else the host of a TCP endpoint, else <c>127.0.0.1</c>.</value>
    public string? PublishedPortHost { get; set; }

    /// <summary>The engine's Unix socket as a path on the engine's own machine, which
    /// <see cref="DockerContainerBuilder.WithDockerSocket(string)"/> bind-mounts into containers.</summary>
    /// <value><see langword="null"/>: <c>TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE</c>, else the path of a <c>unix://</c> endpoint, else <c>/var/run/docker.sock</c>.</value>
    public string? EngineSocketPath { get; set; }

    /// <summary>How long one endpoint may take to answer <c>GET /_ping</c>.</summary>
    /// <value>5 seconds.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a single non-streaming engine request may take.</summary>
    /// <value>2 minutes.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The highest Engine API version to use even when the engine speaks a higher one.</summary>
    /// <value><see langword="null"/>: <c>DOCKER_API_VERSION</c> if set, else <see cref="DockerEngine.MaximumApiVersion"/>.</value>
    public Version? MaximumApiVersion { get; set; }

    /// <summary>Where the engine client, builds, containers and waits log; <see langword="null"/> logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The clock certificates are checked against; <see langword="null"/> for <see cref="TimeProvider.System"/>.</summary>
    internal TimeProvider? TimeProvider { get; set; }
}
