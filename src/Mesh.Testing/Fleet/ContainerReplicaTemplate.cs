using System.Net;
using System.Net.Sockets;
using Mesh.Containers;

namespace Mesh.Testing;

/// <summary>
/// Replicas in containers, through the Docker Engine API (Mesh.Containers): the test replica built into a
/// <c>FROM scratch</c> image without any registry, or any image of your own. Each replica's port is published on a
/// fixed port of the engine's host (kept across restarts; <c>127.0.0.1</c> for an engine on this machine, see
/// <see cref="DockerEngine.Host"/>) and the containers share one network of the fleet, so a replica can be
/// partitioned off. Dispose the template after the fleet to remove the network.
/// </summary>
public sealed class ContainerReplicaTemplate : ReplicaTemplate, IAsyncDisposable
{
    /// <summary>The environment variables the test replica reads.</summary>
    public const string IdVariable = "REPLICA_ID", VersionVariable = "REPLICA_VERSION", PortVariable = "REPLICA_PORT";

    private readonly DockerSession _session;
    private readonly DockerNetwork _network;
    private readonly string _image;
    private readonly int _port;
    private readonly string? _readinessPath;
    private readonly bool _isTestReplica;
    private readonly IReadOnlyDictionary<string, string> _environment;

    private ContainerReplicaTemplate(DockerSession session, DockerNetwork network, string image, int port, string? readinessPath, bool isTestReplica, IReadOnlyDictionary<string, string>? environment)
    {
        _session = session;
        _network = network;
        _image = image;
        _port = port;
        _readinessPath = readinessPath;
        _isTestReplica = isTestReplica;
        _environment = environment ?? new Dictionary<string, string>();
    }

    /// <summary>The image replicas run.</summary>
    public string Image => _image;

    /// <summary>
    /// The test replica in containers. Without <paramref name="projectPath"/>, the image is made of what this process runs:
    /// Mesh.Testing (the replica is <see cref="InProcessReplica.RunAsProcessAsync"/>) with the assemblies it needs, on this
    /// machine's .NET runtime (<see cref="DotNetAppImageBuilder"/>) — no SDK, no restore, no project to copy; a few seconds
    /// the first time, then cached by a hash of its inputs. This process must run on Linux with the engine's architecture.
    /// With <paramref name="projectPath"/>, that project is published self-contained into the image (<see cref="DotNetImageBuilder"/>,
    /// cached by a hash of its sources); its <c>Program</c> should run <c>return await InProcessReplica.RunAsProcessAsync();</c>
    /// (plus what you add), listening on <c>REPLICA_PORT</c> (8080).
    /// </summary>
    /// <param name="session">The Docker session that owns the containers and the network.</param>
    /// <param name="projectPath">A replica project of your own, or <see langword="null"/> for the test replica of this Mesh.Testing.</param>
    /// <param name="cancellationToken">Cancels the build.</param>
    public static async Task<ContainerReplicaTemplate> ForTestReplicaAsync(DockerSession session, string? projectPath = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        DockerImage image;
        if (projectPath is not null)
        {
            image = await new DotNetImageBuilder(projectPath)
                .WithRepository("mesh-test-replica")
                .WithExposedPorts(8080)
                .BuildAsync(session.Engine, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var directory = Directory.CreateTempSubdirectory("mesh-test-replica-");
            try
            {
                var launcher = Internal.TestReplicaApplication.Write(directory.FullName);
                image = await new DotNetAppImageBuilder(launcher)
                    .WithRepository("mesh-test-replica")
                    .WithExposedPorts(8080)
                    .BuildAsync(session.Engine, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                try
                {
                    directory.Delete(recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }

        return await CreateAsync(session, image.Reference, 8080, "/healthz", isTestReplica: true, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Any image: replicas publish <paramref name="containerPort"/> and are ready when <paramref name="readinessPath"/>
    /// answers 200 (or, without a path, when the port accepts connections).</summary>
    /// <param name="session">The Docker session.</param>
    /// <param name="image">The image reference.</param>
    /// <param name="containerPort">The port the service listens on inside the container.</param>
    /// <param name="readinessPath">An HTTP path that answers 200 when ready, or <see langword="null"/>.</param>
    /// <param name="environment">Environment variables for every replica (REPLICA_ID, REPLICA_VERSION and REPLICA_PORT are added).</param>
    /// <param name="cancellationToken">Cancels the network creation.</param>
    public static Task<ContainerReplicaTemplate> ForImageAsync(DockerSession session, string image, int containerPort, string? readinessPath = null,
        IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default) =>
        CreateAsync(session, image, containerPort, readinessPath, isTestReplica: false, environment, cancellationToken);

    private static async Task<ContainerReplicaTemplate> CreateAsync(DockerSession session, string image, int port, string? readinessPath, bool isTestReplica,
        IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        var network = await session.CreateNetworkAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        return new ContainerReplicaTemplate(session, network, image, port, readinessPath, isTestReplica, environment);
    }

    /// <inheritdoc />
    public override async Task<IFleetReplica> StartReplicaAsync(string id, string? version, CancellationToken cancellationToken)
    {
        // The port is chosen here (and kept across restarts) so that the replica's address never changes. On a remote engine
        // a free port of this machine is only a guess: when the engine already has it, try another.
        const int attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var builder = CreateBuilder(id, version, FreePort(_session.Engine.Host));
            try
            {
                var container = await builder.StartAsync(_session, cancellationToken).ConfigureAwait(false);
                return new ContainerFleetReplica(id, version, container, _network, _port, _readinessPath, _isTestReplica);
            }
            catch (DockerEngineException e) when (attempt < attempts && IsPortTaken(e))
            {
            }
        }
    }

    private DockerContainerBuilder CreateBuilder(string id, string? version, int hostPort)
    {
        var builder = new DockerContainerBuilder(_image)
            .WithName($"{id}-{Guid.NewGuid():N}"[..Math.Min(60, id.Length + 9)])
            .WithPortBinding(_port, hostPort)
            .WithNetwork(_network, id)
            .WithEnvironment(IdVariable, id)
            .WithEnvironment(PortVariable, _port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithLabel("mesh.fleet.replica", id)
            .WithInit()
            .WithWaitStrategy(_readinessPath is null ? WaitStrategy.ForPort(_port) : WaitStrategy.ForHttp(_port, _readinessPath));
        if (version is not null)
        {
            builder = builder.WithEnvironment(VersionVariable, version);
        }

        foreach (var (name, value) in _environment)
        {
            builder = builder.WithEnvironment(name, value);
        }

        return builder;
    }

    private static bool IsPortTaken(DockerEngineException error) =>
        error.EngineMessage.Contains("port is already allocated", StringComparison.OrdinalIgnoreCase) ||
        error.EngineMessage.Contains("address already in use", StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc />
    public override string ToString() => $"containers of {_image}";

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _network.DisposeAsync();

    /// <summary>A free port on the engine's host when it is this machine (a loopback address), else a free port of this machine as a guess.</summary>
    private static int FreePort(string engineHost)
    {
        using var listener = new TcpListener(IPAddress.TryParse(engineHost, out var address) && IPAddress.IsLoopback(address) ? address : IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A container as a fleet member: kill is SIGKILL, pause is the engine's cgroup freeze, disconnect takes
/// the container off its only network (its published port stops answering).</summary>
internal sealed class ContainerFleetReplica(string id, string? version, DockerContainer container, DockerNetwork network, int port, string? readinessPath, bool isTestReplica) : IFleetReplica
{
    private static readonly HttpClient s_control = new() { Timeout = TimeSpan.FromSeconds(10) };
    private volatile bool _running = true;

    public string Id => id;

    public Uri Address { get; } = container.GetBaseAddress(port);

    public string? Version => version;

    public bool IsRunning => _running;

    public DockerContainer Container => container;

    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        await container.KillAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        _running = false;
    }

    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await container.StartAsync(cancellationToken).ConfigureAwait(false);
        await container.WaitAsync(readinessPath is null ? WaitStrategy.ForPort(port) : WaitStrategy.ForHttp(port, readinessPath), cancellationToken).ConfigureAwait(false);
        _running = true;
    }

    public Task PauseAsync(CancellationToken cancellationToken = default) => container.PauseAsync(cancellationToken);

    public Task UnpauseAsync(CancellationToken cancellationToken = default) => container.UnpauseAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken = default) => network.DisconnectAsync(container, cancellationToken);

    public Task ReconnectAsync(CancellationToken cancellationToken = default) => network.ConnectAsync(container, [id], cancellationToken);

    public async Task ConfigureAsync(ReplicaChange change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (!isTestReplica)
        {
            throw new NotSupportedException($"Replica {id} runs {container.Image}, not the test replica, so it has no control API; use kill, pause or disconnect instead.");
        }

        var settings = new List<(string, string)>();
        if (change.Latency is { } latency)
        {
            settings.Add(("latency", latency.TotalMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        if (change.ErrorRate is { } rate)
        {
            settings.Add(("errors", rate.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        if (change.Hang is { } hang)
        {
            settings.Add(("hang", hang ? "true" : "false"));
        }

        if (change.Healthy is { } healthy)
        {
            settings.Add(("healthy", healthy ? "true" : "false"));
        }

        foreach (var (what, value) in settings)
        {
            using var response = await s_control.PostAsync(new Uri(Address, $"/control/{what}?value={value}"), null, cancellationToken).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
        }
    }

    public async Task<string> GetLogsAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var lines = await container.GetLogsAsync(100, cancellationToken).ConfigureAwait(false);
            return string.Join(Environment.NewLine, lines.Select(l => l.ToString()));
        }
        catch (DockerEngineException ex)
        {
            return $"(logs unavailable: {ex.Message})";
        }
    }

    public ValueTask DisposeAsync() => container.DisposeAsync();
}
