using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Mesh.Containers.Internal;

internal sealed record NoWaitStrategy : WaitStrategy
{
    protected internal override Task WaitUntilReadyAsync(DockerContainer container, CancellationToken cancellationToken) => Task.CompletedTask;
}

internal sealed record RunningWaitStrategy : WaitStrategy
{
    protected internal override async Task WaitUntilReadyAsync(DockerContainer container, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var state = await container.GetStateAsync(cancellationToken).ConfigureAwait(false);
            if (state.Status == "running")
            {
                return;
            }

            await Task.Delay(Probe.Interval(attempt), cancellationToken).ConfigureAwait(false);
        }
    }
}

internal sealed record PortWaitStrategy(int ContainerPort) : WaitStrategy
{
    protected internal override async Task WaitUntilReadyAsync(DockerContainer container, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = container.GetMappedPort(ContainerPort);
            if (await Probe.TcpAsync(container.Host, port, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            await Task.Delay(Probe.Interval(attempt), cancellationToken).ConfigureAwait(false);
        }
    }
}

internal sealed record HttpWaitStrategy(int ContainerPort, string Path, Func<HttpStatusCode, bool> IsReady) : WaitStrategy
{
    protected internal override async Task WaitUntilReadyAsync(DockerContainer container, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var uri = new Uri(container.GetBaseAddress(ContainerPort), Path);
            if (await Probe.HttpAsync(uri, IsReady, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            await Task.Delay(Probe.Interval(attempt), cancellationToken).ConfigureAwait(false);
        }
    }
}

internal sealed record LogLineWaitStrategy(string? Text, Regex? Pattern, int Occurrences) : WaitStrategy
{
    protected internal override async Task WaitUntilReadyAsync(DockerContainer container, CancellationToken cancellationToken)
    {
        var seen = 0;
        var since = await container.GetPreviousRunEndAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var line in container.FollowLogsAsync(since, cancellationToken).ConfigureAwait(false))
        {
            var match = Text is not null ? line.Text.Contains(Text, StringComparison.Ordinal) : Pattern!.IsMatch(line.Text);
            if (match && ++seen >= Occurrences)
            {
                return;
            }
        }

        throw new InvalidOperationException(
            $"The log stream of '{container.Name}' ended after {seen} of {Occurrences} lines matching '{(object?)Text ?? Pattern}'.");
    }
}

internal sealed record HealthWaitStrategy : WaitStrategy
{
    protected internal override async Task WaitUntilReadyAsync(DockerContainer container, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var state = await container.GetStateAsync(cancellationToken).ConfigureAwait(false);
            switch (state.Health)
            {
                case null:
                    throw new InvalidOperationException(
                        $"Container '{container.Name}' has no health check; add one with DockerContainerBuilder.WithHealthCheck or HEALTHCHECK in its Dockerfile.");
                case "healthy":
                    return;
                case "unhealthy":
                    throw new InvalidOperationException($"The engine reports container '{container.Name}' unhealthy.");
            }

            await Task.Delay(Probe.Interval(attempt), cancellationToken).ConfigureAwait(false);
        }
    }
}

internal sealed record AllWaitStrategy(IReadOnlyList<WaitStrategy> Parts) : WaitStrategy
{
    protected internal override async Task WaitUntilReadyAsync(DockerContainer container, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = Parts.Select(p => p.WaitUntilReadyAsync(container, cts.Token)).ToList();
        try
        {
            while (tasks.Count > 0)
            {
                var done = await Task.WhenAny(tasks).ConfigureAwait(false);
                await done.ConfigureAwait(false);
                tasks.Remove(done);
            }
        }
        catch
        {
            await cts.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The first failure is the one reported.
            }

            throw;
        }
    }

    public bool Equals(AllWaitStrategy? other) =>
        other is not null && Timeout == other.Timeout && Parts.SequenceEqual(other.Parts);

    public override int GetHashCode() => HashCode.Combine(Timeout, Parts.Count);
}

/// <summary>Readiness probes against published ports on the engine's host (<see cref="DockerContainer.Host"/>).</summary>
internal static class Probe
{
    private static readonly HttpClient s_http = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        ConnectTimeout = TimeSpan.FromSeconds(2),
        PooledConnectionLifetime = TimeSpan.Zero,
    })
    {
        Timeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>25 ms at first, growing to 250 ms: quick for fast starters, light for slow ones.</summary>
    public static TimeSpan Interval(int attempt) => TimeSpan.FromMilliseconds(Math.Min(250, 25 * (1 << Math.Min(attempt, 4))));

    public static async Task<bool> TcpAsync(string host, int port, CancellationToken cancellationToken)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connect.CancelAfter(TimeSpan.FromSeconds(2));
            await socket.ConnectAsync(IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port), connect.Token).ConfigureAwait(false);

            // The engine's userland proxy accepts every connection and closes it at once when nothing listens behind it.
            using var read = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            read.CancelAfter(TimeSpan.FromMilliseconds(50));
            var buffer = new byte[1];
            try
            {
                var count = await socket.ReceiveAsync(buffer, SocketFlags.None, read.Token).ConfigureAwait(false);
                return count > 0;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return true;
            }
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public static async Task<bool> HttpAsync(Uri uri, Func<HttpStatusCode, bool> isReady, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await s_http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            return isReady(response.StatusCode);
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
