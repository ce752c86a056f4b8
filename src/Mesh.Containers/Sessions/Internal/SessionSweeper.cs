using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers.Internal;

/// <summary>Finds and removes the containers and networks of sessions, by label.</summary>
internal static class SessionSweeper
{
    public static Dictionary<string, IDictionary<string, bool>> LabelFilter(string label, string? value = null) =>
        new() { ["label"] = new Dictionary<string, bool> { [value is null ? label : $"{label}={value}"] = true } };

    /// <summary>Removes every container and network of <paramref name="sessionId"/>.</summary>
    public static async Task<(int Containers, int Networks)> RemoveSessionAsync(IDockerClient client, string sessionId, ILogger logger, CancellationToken cancellationToken)
    {
        var containers = await client.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = LabelFilter(DockerLabels.SessionId, sessionId) }, cancellationToken).ConfigureAwait(false);
        var removed = await RemoveContainersAsync(client, containers.Select(c => c.ID), sessionId, logger, cancellationToken).ConfigureAwait(false);
        var networks = await client.Networks.ListNetworksAsync(
            new NetworksListParameters { Filters = LabelFilter(DockerLabels.SessionId, sessionId) }, cancellationToken).ConfigureAwait(false);
        var removedNetworks = await RemoveNetworksAsync(client, networks.Select(n => n.ID), sessionId, logger, cancellationToken).ConfigureAwait(false);
        return (removed, removedNetworks);
    }

    /// <summary>Removes the containers and networks of sessions on this machine whose owning process is gone.</summary>
    public static async Task<(int Containers, int Networks, int Sessions)> SweepAsync(IDockerClient client, string currentSessionId, ILogger logger, CancellationToken cancellationToken)
    {
        var containers = await client.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = LabelFilter(DockerLabels.Managed) }, cancellationToken).ConfigureAwait(false);
        var networks = await client.Networks.ListNetworksAsync(
            new NetworksListParameters { Filters = LabelFilter(DockerLabels.Managed) }, cancellationToken).ConfigureAwait(false);

        var deadSessions = new HashSet<string>(StringComparer.Ordinal);
        var liveSessions = new HashSet<string>(StringComparer.Ordinal) { currentSessionId };
        bool IsDead(IDictionary<string, string>? labels)
        {
            if (labels is null || !labels.TryGetValue(DockerLabels.SessionId, out var session) || liveSessions.Contains(session))
            {
                return false;
            }

            if (deadSessions.Contains(session))
            {
                return true;
            }

            var sameHost = labels.TryGetValue(DockerLabels.Host, out var host) && string.Equals(host, ProcessIdentity.HostName, StringComparison.Ordinal);
            if (!sameHost || !ProcessIdentity.TryParse(labels, out var pid, out var start) || ProcessIdentity.IsAlive(pid, start))
            {
                liveSessions.Add(session);
                return false;
            }

            deadSessions.Add(session);
            return true;
        }

        var deadContainers = containers.Where(c => IsDead(c.Labels)).Select(c => c.ID).ToList();
        var deadNetworks = networks.Where(n => IsDead(n.Labels)).Select(n => n.ID).ToList();
        if (deadContainers.Count == 0 && deadNetworks.Count == 0)
        {
            return (0, 0, 0);
        }

        var removedContainers = await RemoveContainersAsync(client, deadContainers, "(swept)", logger, cancellationToken).ConfigureAwait(false);
        var removedNetworks = await RemoveNetworksAsync(client, deadNetworks, "(swept)", logger, cancellationToken).ConfigureAwait(false);
        SessionLog.Swept(logger, removedContainers, removedNetworks, deadSessions.Count);
        return (removedContainers, removedNetworks, deadSessions.Count);
    }

    private static async Task<int> RemoveContainersAsync(IDockerClient client, IEnumerable<string> ids, string sessionId, ILogger logger, CancellationToken cancellationToken)
    {
        var tasks = ids.Select(async id =>
        {
            try
            {
                await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken).ConfigureAwait(false);
                return 1;
            }
            catch (DockerContainerNotFoundException)
            {
                return 0;
            }
            catch (DockerApiException e)
            {
                SessionLog.RemoveFailed(logger, "container", id, sessionId, EngineErrors.MessageOf(e.ResponseBody));
                return 0;
            }
        }).ToArray();
        return (await Task.WhenAll(tasks).ConfigureAwait(false)).Sum();
    }

    private static async Task<int> RemoveNetworksAsync(IDockerClient client, IEnumerable<string> ids, string sessionId, ILogger logger, CancellationToken cancellationToken)
    {
        var removed = 0;
        foreach (var id in ids)
        {
            try
            {
                await client.Networks.DeleteNetworkAsync(id, cancellationToken).ConfigureAwait(false);
                removed++;
            }
            catch (DockerNetworkNotFoundException)
            {
            }
            catch (DockerApiException e)
            {
                SessionLog.RemoveFailed(logger, "network", id, sessionId, EngineErrors.MessageOf(e.ResponseBody));
            }
        }

        return removed;
    }
}
