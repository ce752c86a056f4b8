using System.Collections.Immutable;
using Docker.DotNet.Models;
using Mesh.Containers.Internal;

namespace Mesh.Containers;

/// <summary>
/// Describes a container to create in a <see cref="DockerSession"/>. Immutable: every <c>With…</c> returns a new builder,
/// so a builder can be shared and varied safely. Ports are published on 127.0.0.1 for an engine on this machine (on all of
/// a remote engine's interfaces; see <see cref="DockerEngine.Host"/>).
/// </summary>
public sealed class DockerContainerBuilder
{
    private readonly string _image;
    private string? _name;
    private ImmutableDictionary<string, string> _environment = ImmutableDictionary<string, string>.Empty;
    private ImmutableDictionary<string, string> _labels = ImmutableDictionary<string, string>.Empty;
    private ImmutableArray<string>? _command;
    private ImmutableArray<string>? _entrypoint;
    private ImmutableList<(int ContainerPort, int HostPort)> _ports = [];
    private ImmutableList<(DockerNetwork Network, ImmutableArray<string> Aliases)> _networks = [];
    private ImmutableList<(string Path, ReadOnlyMemory<byte> Content, UnixFileMode Mode)> _files = [];
    private WaitStrategy _wait = WaitStrategy.ForRunning();
    private HealthcheckConfig? _healthCheck;
    private string? _dockerSocketTarget;
    private bool _init;

    /// <summary>Starts a description of a container of <paramref name="image"/>.</summary>
    /// <param name="image">An image reference (<c>name:tag</c> or id) present on the engine.</param>
    public DockerContainerBuilder(string image)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        _image = image;
    }

    /// <summary>Starts a description of a container of a built image.</summary>
    /// <param name="image">The image.</param>
    public DockerContainerBuilder(DockerImage image)
        : this((image ?? throw new ArgumentNullException(nameof(image))).Reference)
    {
        _init = image.RequiresInit;
    }

    /// <summary>The image reference.</summary>
    public string Image => _image;

    /// <summary>Runs the engine's init process as PID 1 of the container (<c>docker run --init</c>), which forwards signals
    /// to the image's process and reaps zombies. On by default for images whose <see cref="DockerImage.RequiresInit"/> is set
    /// (the .NET images of <see cref="DotNetImageBuilder"/>).</summary>
    /// <param name="enabled">Whether to run an init.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithInit(bool enabled = true) => With(b => b._init = enabled);

    /// <summary>Sets the container name (unique on the engine); without one a unique name is generated.</summary>
    /// <param name="name">The name.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return With(b => b._name = name);
    }

    /// <summary>Sets an environment variable.</summary>
    /// <param name="name">The variable name.</param>
    /// <param name="value">The value.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithEnvironment(string name, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        return With(b => b._environment = b._environment.SetItem(name, value));
    }

    /// <summary>Sets a label (for example <c>mesh.service=catalog</c> for <see cref="DockerDiscoveryProvider"/>).</summary>
    /// <param name="name">The label name.</param>
    /// <param name="value">The value.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithLabel(string name, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        if (name.StartsWith(DockerLabels.Managed, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Labels starting with '{DockerLabels.Managed}' are reserved for session cleanup.", nameof(name));
        }

        return With(b => b._labels = b._labels.SetItem(name, value));
    }

    /// <summary>Replaces the image's command (the arguments after the entrypoint).</summary>
    /// <param name="command">The command and its arguments.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithCommand(params string[] command)
    {
        ArgumentNullException.ThrowIfNull(command);
        return With(b => b._command = [.. command]);
    }

    /// <summary>Replaces the image's entrypoint.</summary>
    /// <param name="entrypoint">The entrypoint and its arguments.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithEntrypoint(params string[] entrypoint)
    {
        ArgumentNullException.ThrowIfNull(entrypoint);
        return With(b => b._entrypoint = [.. entrypoint]);
    }

    /// <summary>Publishes a container TCP port on the engine's host (127.0.0.1 for an engine on this machine; see <see cref="DockerEngine.Host"/>);
    /// look the host port up with <see cref="DockerContainer.GetMappedPort"/>.</summary>
    /// <param name="containerPort">The container's port.</param>
    /// <param name="hostPort">A fixed host port, or 0 (the default) for one the engine picks.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithPortBinding(int containerPort, int hostPort = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(containerPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(containerPort, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThan(hostPort, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostPort, 65535);
        return With(b => b._ports = b._ports.RemoveAll(p => p.ContainerPort == containerPort).Add((containerPort, hostPort)));
    }

    /// <summary>Bind-mounts the engine's own socket into the container, for containers that drive the engine (a CI runner, a
    /// build tool, Testcontainers' Ryuk). The socket is the path on the engine's machine: <see cref="DockerEngineOptions.EngineSocketPath"/>,
    /// else <c>TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE</c>, else the path of a <c>unix://</c> endpoint, else <c>/var/run/docker.sock</c>.
    /// Whoever holds the socket controls the engine: mount it only into containers you trust.</summary>
    /// <param name="containerPath">Where the socket appears inside the container.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithDockerSocket(string containerPath = "/var/run/docker.sock")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(containerPath);
        if (!containerPath.StartsWith('/'))
        {
            throw new ArgumentException($"The container path must be absolute; got '{containerPath}'.", nameof(containerPath));
        }

        return With(b => b._dockerSocketTarget = containerPath);
    }

    /// <summary>Attaches the container to a network of the session, with optional aliases it answers to there.</summary>
    /// <param name="network">The network.</param>
    /// <param name="aliases">Extra names on that network.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithNetwork(DockerNetwork network, params string[] aliases)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(aliases);
        return With(b => b._networks = b._networks.RemoveAll(n => n.Network.Id == network.Id).Add((network, [.. aliases])));
    }

    /// <summary>Copies a file into the container before it starts.</summary>
    /// <param name="containerPath">The absolute path in the container, for example <c>/www/index.html</c>; missing directories are created.</param>
    /// <param name="content">The file's bytes.</param>
    /// <param name="mode">The file mode; <c>0</c> (the default) means 0644.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithFile(string containerPath, ReadOnlyMemory<byte> content, UnixFileMode mode = 0)
    {
        TarFiles.ToRelative(containerPath);
        return With(b => b._files = b._files.Add((containerPath, content, mode)));
    }

    /// <summary>Adds an engine health check (what <see cref="WaitStrategy.ForHealthy"/> waits for).</summary>
    /// <param name="command">The command run inside the container, in exec form (for example <c>["/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1/"]</c>); exit code 0 means healthy.</param>
    /// <param name="interval">Time between checks.</param>
    /// <param name="retries">Consecutive failures before the container counts as unhealthy.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithHealthCheck(IReadOnlyList<string> command, TimeSpan interval, int retries = 3)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentOutOfRangeException.ThrowIfZero(command.Count);
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(retries, 1);
        return With(b => b._healthCheck = new HealthcheckConfig
        {
            Test = ["CMD", .. command],
            Interval = interval,
            Timeout = interval > TimeSpan.FromSeconds(5) ? interval : TimeSpan.FromSeconds(5),
            Retries = retries,
        });
    }

    /// <summary>Sets when the container counts as started; the default is <see cref="WaitStrategy.ForRunning"/>.</summary>
    /// <param name="waitStrategy">The strategy.</param>
    /// <returns>A new builder.</returns>
    public DockerContainerBuilder WithWaitStrategy(WaitStrategy waitStrategy)
    {
        ArgumentNullException.ThrowIfNull(waitStrategy);
        return With(b => b._wait = waitStrategy);
    }

    /// <summary>Creates the container (labelled with the session), copies its files in, starts it and waits until it is ready.
    /// If any step fails, the container is removed and the failure rethrown.</summary>
    /// <param name="session">The owning session.</param>
    /// <param name="cancellationToken">Cancels creating, starting and waiting.</param>
    /// <returns>The running, ready container.</returns>
    /// <exception cref="DockerEngineException">The engine refused (missing image, name conflict, port conflict...); the message is the engine's.</exception>
    /// <exception cref="DockerContainerNotReadyException">The container exited while waited on, or did not become ready in time.</exception>
    public async Task<DockerContainer> StartAsync(DockerSession session, CancellationToken cancellationToken = default)
    {
        var container = await CreateAsync(session, cancellationToken).ConfigureAwait(false);
        try
        {
            await container.StartAsync(cancellationToken).ConfigureAwait(false);
            return container;
        }
        catch
        {
            await RemoveQuietlyAsync(container).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates the container (labelled with the session) and copies its files in, without starting it.</summary>
    /// <param name="session">The owning session.</param>
    /// <param name="cancellationToken">Cancels the requests.</param>
    /// <returns>The created container; start it with <see cref="DockerContainer.StartAsync(CancellationToken)"/>.</returns>
    /// <exception cref="DockerEngineException">The engine refused (missing image, name conflict...); the message is the engine's.</exception>
    public async Task<DockerContainer> CreateAsync(DockerSession session, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        session.ThrowIfDisposed();
        var name = _name ?? $"mesh-{session.Id[..8]}-{Guid.NewGuid().ToString("N")[..8]}";
        var labels = new Dictionary<string, string>(_labels, StringComparer.Ordinal);
        foreach (var (key, value) in session.Labels)
        {
            labels[key] = value;
        }

        var exposed = _ports.ToDictionary(p => p.ContainerPort + "/tcp", _ => new EmptyStruct());
        var bindings = _ports.ToDictionary(
            p => p.ContainerPort + "/tcp",
            p => (IList<PortBinding>)[new PortBinding { HostIP = session.Engine.PublishedPorts.BindAddress, HostPort = p.HostPort == 0 ? "" : p.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture) }]);
        var first = _networks.IsEmpty ? default : _networks[0];
        var parameters = new CreateContainerParameters
        {
            Name = name,
            Image = _image,
            Env = _environment.Select(e => $"{e.Key}={e.Value}").ToList(),
            Labels = labels,
            Cmd = _command?.ToList()!,
            Entrypoint = _entrypoint?.ToList()!,
            ExposedPorts = exposed,
            Healthcheck = _healthCheck!,
            HostConfig = new HostConfig
            {
                PortBindings = bindings,
                Init = _init ? true : null,
                NetworkMode = first.Network?.Name!,
                Binds = _dockerSocketTarget is null ? null! : [$"{session.Engine.EngineSocketPath}:{_dockerSocketTarget}"],
            },
            NetworkingConfig = first.Network is null ? null! : new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings>
                {
                    [first.Network.Name] = new EndpointSettings { Aliases = first.Aliases.IsEmpty ? null! : first.Aliases.ToList() },
                },
            },
        };

        var response = await EngineErrors.CallAsync($"Creating container '{name}' from image '{_image}'",
            () => session.Engine.Client.Containers.CreateContainerAsync(parameters, cancellationToken)).ConfigureAwait(false);
        var container = new DockerContainer(session, response.ID, name, _image, _wait);
        try
        {
            foreach (var (network, aliases) in _networks.Skip(1))
            {
                await network.ConnectAsync(container, aliases, cancellationToken).ConfigureAwait(false);
            }

            if (!_files.IsEmpty)
            {
                await container.CopyFilesAsync(_files, cancellationToken).ConfigureAwait(false);
            }

            return container;
        }
        catch
        {
            await RemoveQuietlyAsync(container).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Removes a container that failed to start, keeping the original failure the one reported
    /// (the session removes it later if this fails too).</summary>
    private static async Task RemoveQuietlyAsync(DockerContainer container)
    {
        try
        {
            await container.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (EngineErrors.IsEngineFailure(e))
        {
        }
    }

    private DockerContainerBuilder With(Action<DockerContainerBuilder> change)
    {
        var copy = (DockerContainerBuilder)MemberwiseClone();
        change(copy);
        return copy;
    }
}
