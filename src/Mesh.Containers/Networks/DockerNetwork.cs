using Docker.DotNet;
using Docker.DotNet.Models;
using Mesh.Containers.Internal;

namespace Mesh.Containers;

/// <summary>A bridge network created by a <see cref="DockerSession"/>. Containers on it reach each other by name and alias;
/// disconnecting a container partitions it. Disposing removes the network.</summary>
public sealed class DockerNetwork : IAsyncDisposable
{
    private readonly DockerSession _session;
    private int _disposed;

    internal DockerNetwork(DockerSession session, string id, string name)
    {
        _session = session;
        Id = id;
        Name = name;
    }

    /// <summary>The engine's network id.</summary>
    public string Id { get; }

    /// <summary>The network name.</summary>
    public string Name { get; }

    /// <summary>Connects a container to this network.</summary>
    /// <param name="container">The container.</param>
    /// <param name="aliases">Extra names the container answers to on this network.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when connected (published ports are refreshed).</returns>
    public async Task ConnectAsync(DockerContainer container, IEnumerable<string>? aliases = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(container);
        await EngineErrors.CallAsync($"Connecting container '{container.Name}' to network '{Name}'", () => _session.Engine.Client.Networks.ConnectNetworkAsync(Id, new NetworkConnectParameters
        {
            Container = container.Id,
            EndpointConfig = new EndpointSettings { Aliases = aliases?.ToList()! },
        }, cancellationToken)).ConfigureAwait(false);
        await container.RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disconnects a container from this network (a partition): it can no longer reach or be reached through it,
    /// and ports it publishes through this network stop answering.</summary>
    /// <param name="container">The container.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when disconnected.</returns>
    public async Task DisconnectAsync(DockerContainer container, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(container);
        await EngineErrors.CallAsync($"Disconnecting container '{container.Name}' from network '{Name}'", () => _session.Engine.Client.Networks.DisconnectNetworkAsync(Id, new NetworkDisconnectParameters
        {
            Container = container.Id,
            Force = true,
        }, cancellationToken)).ConfigureAwait(false);
        await container.RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the network. Remove or disconnect its containers first: the engine refuses to remove a network in use.</summary>
    /// <returns>A task that completes when removed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _session.Engine.Client.Networks.DeleteNetworkAsync(Id, cts.Token).ConfigureAwait(false);
        }
        catch (DockerNetworkNotFoundException)
        {
        }
        catch (DockerApiException e)
        {
            throw EngineErrors.Wrap($"Removing network '{Name}'", e);
        }
        catch (Exception e) when (EngineErrors.TranslateUnreachable($"Removing network '{Name}'", e) is { } translated)
        {
            throw translated;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
