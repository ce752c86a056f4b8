using System.Globalization;
using Mesh.Discovery;

namespace Mesh.Testing;

/// <summary>Options of a <see cref="ServiceFleet"/>.</summary>
public sealed class FleetOptions
{
    /// <summary>How long a replica leaving the fleet (scale-down, rolling update) keeps serving after it was removed
    /// from discovery, so requests already routed to it finish. Default: 1 second.</summary>
    public TimeSpan DrainDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a replica may take to start and become ready. Default: 60 seconds.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The metadata key that carries each replica's version in discovery (for traffic splits). Default: <c>version</c>.</summary>
    public string VersionMetadataKey { get; set; } = "version";
}

/// <summary>
/// N replicas of one service — the test replica in process, or any image in containers — managed like a Kubernetes
/// Deployment at test scale: scale up and down, rolling updates with readiness gating, and chaos on single replicas.
/// Registered with <c>services.AddMeshFleet(fleet)</c>, it is the discovery source of its service, so a mesh client
/// finds the replicas by service name and sees every change at once.
/// </summary>
public sealed class ServiceFleet : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private ReplicaTemplate _template;
    private readonly FleetOptions _options;
    private readonly SemaphoreSlim _operations = new(1, 1);
    private readonly List<IFleetReplica> _retired = [];
    private List<IFleetReplica> _members = [];
    private int _nextId;

    private ServiceFleet(string serviceName, ReplicaTemplate template, FleetOptions options, string? version)
    {
        ServiceName = serviceName;
        _template = template;
        _options = options;
        Version = version;
    }

    /// <summary>Raised after the set of replicas in discovery changed (scale, rolling update step).</summary>
    public event EventHandler? Changed;

    /// <summary>The logical service name the fleet serves (the mesh client's <c>http://{ServiceName}</c>).</summary>
    public string ServiceName { get; }

    /// <summary>The version new replicas run.</summary>
    public string? Version { get; private set; }

    /// <summary>The replicas in discovery now.</summary>
    public IReadOnlyList<IFleetReplica> Replicas
    {
        get
        {
            lock (_lock)
            {
                return [.. _members];
            }
        }
    }

    /// <summary>A replica by position.</summary>
    public IFleetReplica this[int index] => Replicas[index];

    /// <summary>The metadata key under which the fleet publishes each replica's <see cref="IFleetReplica.Id"/>.</summary>
    public const string ReplicaMetadataKey = "replica";

    /// <summary>The endpoints discovery publishes: each replica's address, with its id (<see cref="ReplicaMetadataKey"/>)
    /// and its version as metadata.</summary>
    public IReadOnlyList<MeshEndpoint> Endpoints =>
        [.. Replicas.Select(r => new MeshEndpoint(r.Address, 1, null, r.Version is null
            ? new Dictionary<string, string> { [ReplicaMetadataKey] = r.Id }
            : new Dictionary<string, string> { [ReplicaMetadataKey] = r.Id, [_options.VersionMetadataKey] = r.Version }))];

    /// <summary>Starts a fleet and waits until every replica is ready. A replica that fails to start fails the whole
    /// start with a <see cref="FleetStartupException"/> carrying the replicas' logs; replicas already started are removed.</summary>
    /// <param name="serviceName">The service name.</param>
    /// <param name="replicas">How many replicas.</param>
    /// <param name="template">How to create replicas. Default: the in-process test replica.</param>
    /// <param name="version">The version the replicas run, if any.</param>
    /// <param name="options">Drain delay, start timeout.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<ServiceFleet> StartAsync(string serviceName, int replicas, ReplicaTemplate? template = null, string? version = null,
        FleetOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        ArgumentOutOfRangeException.ThrowIfNegative(replicas);
        var fleet = new ServiceFleet(serviceName.ToLowerInvariant(), template ?? ReplicaTemplate.InProcess(), options ?? new FleetOptions(), version);
        var started = await fleet.StartReplicasAsync(replicas, version, cancellationToken).ConfigureAwait(false);
        lock (fleet._lock)
        {
            fleet._members = started;
        }

        return fleet;
    }

    /// <summary>Scales to <paramref name="replicas"/>: new replicas join once ready; removed ones leave discovery first
    /// and stop after the drain delay.</summary>
    public async Task ScaleAsync(int replicas, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(replicas);
        await _operations.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = Replicas.Count;
            if (replicas > current)
            {
                var added = await StartReplicasAsync(replicas - current, Version, cancellationToken).ConfigureAwait(false);
                Publish(members => [.. members, .. added]);
            }
            else if (replicas < current)
            {
                var leaving = Replicas.Skip(replicas).ToList();
                Publish(members => [.. members.Except(leaving)]);
                await RetireAsync(leaving, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _operations.Release();
        }
    }

    /// <summary>
    /// Replaces every replica with one running <paramref name="version"/>, one at a time, like a Deployment with
    /// maxSurge 1 and maxUnavailable 0: the new replica starts and must be ready before it joins discovery; only then
    /// does an old one leave discovery, drain and stop. If a new replica fails to become ready the update stops there,
    /// the old replicas keep serving, and the error says why.
    /// </summary>
    /// <param name="version">The version the new replicas run.</param>
    /// <param name="template">A new template (for example a new image); default: the fleet's current one.</param>
    /// <param name="cancellationToken">Cancels the update between steps.</param>
    public async Task RollingUpdateAsync(string version, ReplicaTemplate? template = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        await _operations.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Version = version;
            _template = template ?? _template;
            foreach (var old in Replicas.Where(r => r.Version != version).ToList())
            {
                var fresh = (await StartReplicasAsync(1, version, cancellationToken).ConfigureAwait(false))[0];
                Publish(members => [.. members, fresh]);
                Publish(members => [.. members.Where(m => !ReferenceEquals(m, old))]);
                await RetireAsync([old], cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _operations.Release();
        }
    }

    /// <summary>The logs of every replica, for failure messages.</summary>
    public async Task<string> GetLogsAsync(CancellationToken cancellationToken = default)
    {
        var parts = new List<string>();
        foreach (var replica in Replicas)
        {
            parts.Add($"--- {replica.Id} ({replica.Address}) ---{Environment.NewLine}{await replica.GetLogsAsync(cancellationToken).ConfigureAwait(false)}");
        }

        return string.Join(Environment.NewLine, parts);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        List<IFleetReplica> all;
        lock (_lock)
        {
            all = [.. _members, .. _retired];
            _members = [];
            _retired.Clear();
        }

        foreach (var replica in all)
        {
            await replica.DisposeAsync().ConfigureAwait(false);
        }

        _operations.Dispose();
    }

    private async Task<List<IFleetReplica>> StartReplicasAsync(int count, string? version, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.StartTimeout);
        var ids = Enumerable.Range(0, count).Select(_ => string.Create(CultureInfo.InvariantCulture, $"{ServiceName}-{Interlocked.Increment(ref _nextId)}")).ToList();
        var starts = ids.Select(id => _template.StartReplicaAsync(id, version, timeout.Token)).ToList();
        try
        {
            await Task.WhenAll(starts).ConfigureAwait(false);
            return [.. starts.Select(s => s.Result)];
        }
        catch (Exception ex)
        {
            var logs = new List<string>();
            foreach (var start in starts.Where(s => s.IsCompletedSuccessfully))
            {
                logs.Add($"--- {start.Result.Id} ---{Environment.NewLine}{await start.Result.GetLogsAsync(CancellationToken.None).ConfigureAwait(false)}");
                await start.Result.DisposeAsync().ConfigureAwait(false);
            }

            var failures = starts.Where(s => s.IsFaulted).Select(s => s.Exception!.InnerException!).ToList();
            var reason = timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested
                ? $"not ready within {_options.StartTimeout}"
                : string.Join("; ", failures.Select(f => f.Message).DefaultIfEmpty(ex.Message));
            throw new FleetStartupException(
                $"Starting {count} replica(s) of '{ServiceName}' ({_template}) failed ({Math.Max(failures.Count, 1)} did not start): {reason}{Environment.NewLine}{string.Join(Environment.NewLine, logs)}",
                failures.FirstOrDefault() ?? ex);
        }
    }

    private void Publish(Func<List<IFleetReplica>, List<IFleetReplica>> change)
    {
        lock (_lock)
        {
            _members = change(_members);
        }

        Changed?.Invoke(this, EventArgs.Empty);
    }

    private async Task RetireAsync(List<IFleetReplica> leaving, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _retired.AddRange(leaving);
        }

        await Task.Delay(_options.DrainDelay, cancellationToken).ConfigureAwait(false);
        foreach (var replica in leaving)
        {
            lock (_lock)
            {
                _retired.Remove(replica);
            }

            await replica.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A fleet (or a fixture's fleet) could not start; the message carries the replicas' logs.</summary>
public sealed class FleetStartupException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FleetStartupException(string message, Exception? inner)
        : base(message, inner)
    {
    }
}
