namespace Mesh.Testing;

/// <summary>
/// One replica of a <see cref="ServiceFleet"/>, wherever it runs (in process or in a container), with the chaos
/// controls of a Kubernetes-style test: kill, pause, restart, network disconnect, and the behaviour switches of the
/// test replica (latency, errors, hang, health) where the replica runs the test replica.
/// </summary>
public interface IFleetReplica : IAsyncDisposable
{
    /// <summary>The replica id (unique in its fleet; the test replica answers with it).</summary>
    string Id { get; }

    /// <summary>The address the mesh reaches it at (loopback).</summary>
    Uri Address { get; }

    /// <summary>The version it runs (for rolling updates and canaries), if any.</summary>
    string? Version { get; }

    /// <summary>Whether it is running (not killed).</summary>
    bool IsRunning { get; }

    /// <summary>Kills it: its port refuses connections and requests in flight fail, as when a process dies.</summary>
    Task KillAsync(CancellationToken cancellationToken = default);

    /// <summary>Starts it again after a kill, on the same address.</summary>
    Task RestartAsync(CancellationToken cancellationToken = default);

    /// <summary>Freezes it: connections are accepted but nothing is answered (the engine's cgroup freeze for a container).</summary>
    Task PauseAsync(CancellationToken cancellationToken = default);

    /// <summary>Thaws it after <see cref="PauseAsync"/>.</summary>
    Task UnpauseAsync(CancellationToken cancellationToken = default);

    /// <summary>Cuts it off the network (a partition): it keeps running but cannot be reached.</summary>
    Task DisconnectAsync(CancellationToken cancellationToken = default);

    /// <summary>Joins it to the network again after <see cref="DisconnectAsync"/>.</summary>
    Task ReconnectAsync(CancellationToken cancellationToken = default);

    /// <summary>Changes the test replica's behaviour (through its control API).</summary>
    /// <exception cref="NotSupportedException">The replica does not run the test replica.</exception>
    Task ConfigureAsync(ReplicaChange change, CancellationToken cancellationToken = default);

    /// <summary>Its recent log output (for failure messages).</summary>
    Task<string> GetLogsAsync(CancellationToken cancellationToken = default);
}

/// <summary>A change to a test replica's behaviour; unset members stay as they are.</summary>
public sealed class ReplicaChange
{
    /// <summary>Extra latency per answer.</summary>
    public TimeSpan? Latency { get; init; }

    /// <summary>Share of requests answered with 500 (0 to 1).</summary>
    public double? ErrorRate { get; init; }

    /// <summary>Whether to accept requests and never answer.</summary>
    public bool? Hang { get; init; }

    /// <summary>Whether /healthz reports healthy.</summary>
    public bool? Healthy { get; init; }
}
