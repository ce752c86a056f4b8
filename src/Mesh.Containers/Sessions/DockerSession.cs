using System.Globalization;
using Docker.DotNet.Models;
using Mesh.Containers.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers;

/// <summary>
/// Owns the containers and networks created through it. Every one carries the session's labels
/// (<see cref="DockerLabels"/>: session id, owning process id and start time, host); disposing the session removes
/// them all, and starting a session sweeps away the resources of earlier sessions whose process is gone
/// (for example a test run that was killed). No privileged sidecar container is involved.
/// Built images are not owned by a session: they are a cache keyed by content hash.
/// </summary>
public sealed class DockerSession : IAsyncDisposable
{
    private readonly bool _ownsEngine;
    private readonly ILogger _logger;
    private readonly DockerSessionOptions _options;
    private int _disposed;

    private DockerSession(DockerEngine engine, bool ownsEngine, DockerSessionOptions options)
    {
        Engine = engine;
        _ownsEngine = ownsEngine;
        _options = options;
        _logger = engine.LoggerFactory.CreateLogger<DockerSession>();
        Id = Guid.NewGuid().ToString("N")[..16];
        Labels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [DockerLabels.Managed] = "true",
            [DockerLabels.SessionId] = Id,
            [DockerLabels.ProcessId] = ProcessIdentity.CurrentId.ToString(CultureInfo.InvariantCulture),
            [DockerLabels.ProcessStart] = ProcessIdentity.CurrentStartTicks.ToString(CultureInfo.InvariantCulture),
            [DockerLabels.Host] = ProcessIdentity.HostName,
        }.AsReadOnly();
    }

    /// <summary>The session id (16 hex characters), also the value of the <see cref="DockerLabels.SessionId"/> label.</summary>
    public string Id { get; }

    /// <summary>The engine the session works with.</summary>
    public DockerEngine Engine { get; }

    /// <summary>The labels put on every resource of this session.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; }

    /// <summary>Connects to an engine (see <see cref="DockerEngine.ConnectAsync(DockerEngineOptions?, CancellationToken)"/>), then starts a session that owns the engine connection.</summary>
    /// <param name="options">Session options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels connecting and sweeping.</param>
    /// <returns>The started session.</returns>
    /// <exception cref="DockerEngineUnavailableException">No engine answered.</exception>
    public static async Task<DockerSession> StartAsync(DockerSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DockerSessionOptions();
        var engine = await DockerEngine.ConnectAsync(options.Engine, cancellationToken).ConfigureAwait(false);
        try
        {
            return await StartAsync(engine, ownsEngine: true, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    /// <summary>Starts a session on an engine the caller keeps owning.</summary>
    /// <param name="engine">A connected engine; it is not disposed with the session.</param>
    /// <param name="options">Session options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels sweeping.</param>
    /// <returns>The started session.</returns>
    public static Task<DockerSession> StartAsync(DockerEngine engine, DockerSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return StartAsync(engine, ownsEngine: false, options ?? new DockerSessionOptions(), cancellationToken);
    }

    private static async Task<DockerSession> StartAsync(DockerEngine engine, bool ownsEngine, DockerSessionOptions options, CancellationToken cancellationToken)
    {
        if (options.DisposeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "DockerSessionOptions.DisposeTimeout must be positive.");
        }

        var session = new DockerSession(engine, ownsEngine, options);
        if (options.SweepOnStart)
        {
            await session.SweepAsync(cancellationToken).ConfigureAwait(false);
        }

        SessionLog.Started(session._logger, session.Id, ProcessIdentity.CurrentId);
        return session;
    }

    /// <summary>Removes the containers and networks of sessions on this machine whose owning process is gone.</summary>
    /// <param name="cancellationToken">Cancels the sweep.</param>
    /// <returns>How many containers and networks were removed.</returns>
    public async Task<int> SweepAsync(CancellationToken cancellationToken = default)
    {
        var (containers, networks, _) = await EngineErrors.CallAsync("Sweeping resources of ended sessions",
            () => SessionSweeper.SweepAsync(Engine.Client, Id, _logger, cancellationToken)).ConfigureAwait(false);
        return containers + networks;
    }

    /// <summary>Creates a bridge network owned by this session.</summary>
    /// <param name="name">The network name; <see langword="null"/> for a generated unique one.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The network.</returns>
    /// <exception cref="DockerEngineException">The engine refused, for example because the name is taken.</exception>
    public async Task<DockerNetwork> CreateNetworkAsync(string? name = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        name ??= "mesh-" + Id[..8] + "-" + Guid.NewGuid().ToString("N")[..8];
        var response = await EngineErrors.CallAsync($"Creating network '{name}'", () => Engine.Client.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = name,
            Driver = "bridge",
            Labels = new Dictionary<string, string>(Labels),
        }, cancellationToken)).ConfigureAwait(false);
        return new DockerNetwork(this, response.ID, name);
    }

    internal ILogger CreateLogger<T>() => Engine.LoggerFactory.CreateLogger<T>();

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>Removes every container and network of this session (also those already disposed or created elsewhere with its labels),
    /// within <see cref="DockerSessionOptions.DisposeTimeout"/>, then releases the engine if the session owns it. Does not throw:
    /// if the engine cannot be reached, the failure is logged and the leftovers are swept by the next session.</summary>
    /// <returns>A task that completes when the resources are removed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            using var cts = new CancellationTokenSource(_options.DisposeTimeout);
            var (containers, networks) = await SessionSweeper.RemoveSessionAsync(Engine.Client, Id, _logger, cts.Token).ConfigureAwait(false);
            SessionLog.Disposed(_logger, Id, containers, networks);
        }
        catch (Exception e) when (EngineErrors.IsEngineFailure(e))
        {
            // Disposal does not throw: what is left carries the session's labels and is swept by the next session.
            SessionLog.DisposeFailed(_logger, Id, e.Message);
        }
        finally
        {
            if (_ownsEngine)
            {
                await Engine.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
