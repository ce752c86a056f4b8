namespace Mesh.Testing;

/// <summary>How a fleet creates its replicas: the test replica in process, or an image in containers
/// (see <c>ContainerReplicaTemplate</c>).</summary>
public abstract class ReplicaTemplate
{
    /// <summary>The test replica, in this process on a loopback port: no Docker, starts in milliseconds.</summary>
    /// <param name="options">Protocols, TLS and extra services for each replica (the port is always chosen freshly).</param>
    public static ReplicaTemplate InProcess(InProcessReplicaOptions? options = null) => new InProcessReplicaTemplate(options);

    /// <summary>Starts one replica.</summary>
    /// <param name="id">Its id.</param>
    /// <param name="version">The version it reports, if any.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public abstract Task<IFleetReplica> StartReplicaAsync(string id, string? version, CancellationToken cancellationToken);

    /// <summary>What the template is, for messages (for example "in-process test replica").</summary>
    public abstract override string ToString();
}

internal sealed class InProcessReplicaTemplate(InProcessReplicaOptions? options) : ReplicaTemplate
{
    public override async Task<IFleetReplica> StartReplicaAsync(string id, string? version, CancellationToken cancellationToken)
    {
        var replicaOptions = new InProcessReplicaOptions
        {
            Protocols = options?.Protocols ?? Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1,
            ListenAddress = options?.ListenAddress ?? System.Net.IPAddress.Loopback,
            EnableGrpc = options?.EnableGrpc ?? false,
            ConfigureHttps = options?.ConfigureHttps,
            ConfigureServices = options?.ConfigureServices,
            ConfigureApp = options?.ConfigureApp,
            Version = version,
        };
        return new InProcessFleetReplica(await InProcessReplica.StartAsync(id, replicaOptions, cancellationToken).ConfigureAwait(false));
    }

    public override string ToString() => "in-process test replica";
}

/// <summary>An <see cref="InProcessReplica"/> as a fleet member. Pause and disconnect are simulated: a paused replica
/// accepts and never answers; a disconnected one stops listening (its port refuses, as an unreachable host would time
/// out or refuse).</summary>
internal sealed class InProcessFleetReplica(InProcessReplica replica) : IFleetReplica
{
    public string Id => replica.Id;

    public Uri Address => replica.Address;

    public string? Version => replica.Behavior.Version;

    public bool IsRunning => replica.IsRunning;

    public InProcessReplica Replica => replica;

    public Task KillAsync(CancellationToken cancellationToken = default) => replica.StopAsync();

    public Task RestartAsync(CancellationToken cancellationToken = default) => replica.StartAsync(cancellationToken);

    public Task PauseAsync(CancellationToken cancellationToken = default)
    {
        replica.Behavior.Hang = true;
        return Task.CompletedTask;
    }

    public Task UnpauseAsync(CancellationToken cancellationToken = default)
    {
        replica.Behavior.Hang = false;
        return Task.CompletedTask;
    }

    public Task DisconnectAsync(CancellationToken cancellationToken = default) => replica.StopAsync();

    public Task ReconnectAsync(CancellationToken cancellationToken = default) => replica.StartAsync(cancellationToken);

    public Task ConfigureAsync(ReplicaChange change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        var behavior = replica.Behavior;
        if (change.Latency is { } latency)
        {
            behavior.Latency = latency;
        }

        if (change.ErrorRate is { } rate)
        {
            behavior.ErrorRate = rate;
        }

        if (change.Hang is { } hang)
        {
            behavior.Hang = hang;
        }

        if (change.Healthy is { } healthy)
        {
            behavior.Healthy = healthy;
        }

        return Task.CompletedTask;
    }

    public Task<string> GetLogsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult($"{replica} ({(replica.IsRunning ? "running" : "stopped")}, {replica.RequestCount} requests)");

    public ValueTask DisposeAsync() => replica.DisposeAsync();
}
