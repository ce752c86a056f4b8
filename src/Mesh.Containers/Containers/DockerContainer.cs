using System.Collections.Frozen;
using System.Globalization;
using System.Runtime.CompilerServices;
using Docker.DotNet;
using Docker.DotNet.Models;
using Mesh.Containers.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers;

/// <summary>
/// A container of a <see cref="DockerSession"/>: lifecycle (start, stop, kill, pause, restart), published ports on the engine's host,
/// logs followed as a stream, exec, file copy. Thread-safe. Disposing removes the container.
/// </summary>
public sealed class DockerContainer : IAsyncDisposable
{
    private const int LastLogLineCount = 20;
    private readonly DockerSession _session;
    private readonly WaitStrategy _waitStrategy;
    private readonly ILogger _logger;
    private volatile FrozenDictionary<int, int> _ports = FrozenDictionary<int, int>.Empty;
    private int _disposed;

    internal DockerContainer(DockerSession session, string id, string name, string image, WaitStrategy waitStrategy)
    {
        _session = session;
        _waitStrategy = waitStrategy;
        _logger = session.CreateLogger<DockerContainer>();
        Id = id;
        Name = name;
        Image = image;
    }

    /// <summary>The engine's container id.</summary>
    public string Id { get; }

    /// <summary>The container name.</summary>
    public string Name { get; }

    /// <summary>The image reference the container was created from.</summary>
    public string Image { get; }

    /// <summary>The host published ports are reachable on: <c>127.0.0.1</c> for an engine on this machine, the remote engine's
    /// host, or the configured override (<see cref="DockerEngine.Host"/>).</summary>
    public string Host => _session.Engine.Host;

    private IDockerClient Client => _session.Engine.Client;

    /// <summary>The host port (on <see cref="Host"/>) a published container port is mapped to, as of the last start, restart or network change.</summary>
    /// <param name="containerPort">The container's TCP port.</param>
    /// <returns>The host port.</returns>
    /// <exception cref="InvalidOperationException">The port is not published, or the container is not running.</exception>
    public int GetMappedPort(int containerPort)
    {
        if (_ports.TryGetValue(containerPort, out var hostPort))
        {
            return hostPort;
        }

        var published = _ports.Count == 0 ? "none" : string.Join(", ", _ports.Keys.Order());
        throw new InvalidOperationException(
            $"Container port {containerPort}/tcp of '{Name}' has no host port (published now: {published}). " +
            $"Publish it with DockerContainerBuilder.WithPortBinding({containerPort}); a stopped or disconnected container publishes nothing.");
    }

    /// <summary>The base address of a published port on <see cref="Host"/>, for example <c>http://127.0.0.1:32768/</c>.</summary>
    /// <param name="containerPort">The container's TCP port.</param>
    /// <param name="scheme">The scheme, <c>http</c> by default.</param>
    /// <returns>The address.</returns>
    public Uri GetBaseAddress(int containerPort, string scheme = "http") =>
        new($"{scheme}://{_session.Engine.PublishedPorts.UriHost}:{GetMappedPort(containerPort).ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>Starts the container and waits until the builder's wait strategy says it is ready.</summary>
    /// <param name="cancellationToken">Cancels starting and waiting.</param>
    /// <returns>A task that completes when the container is ready.</returns>
    /// <exception cref="DockerEngineException">The engine refused to start it (for example a port conflict).</exception>
    /// <exception cref="DockerContainerNotReadyException">It exited while waited on, or did not become ready in time.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await EngineErrors.CallAsync($"Starting container '{Name}'",
            () => Client.Containers.StartContainerAsync(Id, new ContainerStartParameters(), cancellationToken)).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        await WaitAsync(_waitStrategy, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the container: SIGTERM, then SIGKILL after <paramref name="timeout"/>.</summary>
    /// <param name="timeout">The grace period; 10 seconds by default.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when it stopped.</returns>
    public async Task StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var seconds = (uint)Math.Ceiling((timeout ?? TimeSpan.FromSeconds(10)).TotalSeconds);
        await EngineErrors.CallAsync($"Stopping container '{Name}'",
            () => Client.Containers.StopContainerAsync(Id, new ContainerStopParameters { WaitBeforeKillSeconds = seconds }, cancellationToken)).ConfigureAwait(false);
        _ports = FrozenDictionary<int, int>.Empty;
    }

    /// <summary>Sends a signal to the container's main process (SIGKILL by default, which ends it at once).</summary>
    /// <param name="signal">The signal, for example <c>SIGKILL</c>, <c>SIGTERM</c> or <c>SIGHUP</c>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the signal was sent.</returns>
    public Task KillAsync(string signal = "SIGKILL", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(signal);
        return EngineErrors.CallAsync($"Sending {signal} to container '{Name}'",
            () => Client.Containers.KillContainerAsync(Id, new ContainerKillParameters { Signal = signal }, cancellationToken));
    }

    /// <summary>Freezes every process of the container (cgroup freezer): it keeps its ports but answers nothing.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when paused.</returns>
    public Task PauseAsync(CancellationToken cancellationToken = default) =>
        EngineErrors.CallAsync($"Pausing container '{Name}'", () => Client.Containers.PauseContainerAsync(Id, cancellationToken));

    /// <summary>Thaws a paused container.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when running again.</returns>
    public Task UnpauseAsync(CancellationToken cancellationToken = default) =>
        EngineErrors.CallAsync($"Unpausing container '{Name}'", () => Client.Containers.UnpauseContainerAsync(Id, cancellationToken));

    /// <summary>Restarts the container and waits until the builder's wait strategy says it is ready again.
    /// Published host ports may change; <see cref="GetMappedPort"/> reflects the new ones.</summary>
    /// <param name="timeout">The stop grace period; 10 seconds by default.</param>
    /// <param name="cancellationToken">Cancels restarting and waiting.</param>
    /// <returns>A task that completes when ready again.</returns>
    public async Task RestartAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var seconds = (uint)Math.Ceiling((timeout ?? TimeSpan.FromSeconds(10)).TotalSeconds);
        await EngineErrors.CallAsync($"Restarting container '{Name}'",
            () => Client.Containers.RestartContainerAsync(Id, new ContainerRestartParameters { WaitBeforeKillSeconds = seconds }, cancellationToken)).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        await WaitAsync(_waitStrategy, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the container's state from the engine.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The state.</returns>
    public async Task<DockerContainerState> GetStateAsync(CancellationToken cancellationToken = default)
    {
        var inspect = await InspectAsync(cancellationToken).ConfigureAwait(false);
        var state = inspect.State;
        return new DockerContainerState(state?.Status ?? "unknown", state?.ExitCode ?? 0, state?.Health?.Status is { Length: > 0 } h && h != "none" ? h : null, state?.OOMKilled ?? false);
    }

    /// <summary>The container's IP address on a network (by default its first network), for container-to-container traffic.</summary>
    /// <param name="network">The network, or <see langword="null"/> for the first one.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The address, or <see langword="null"/> when the container has none there (not running or not connected).</returns>
    public async Task<string?> GetIPAddressAsync(DockerNetwork? network = null, CancellationToken cancellationToken = default)
    {
        var inspect = await InspectAsync(cancellationToken).ConfigureAwait(false);
        var networks = inspect.NetworkSettings?.Networks;
        if (networks is null || networks.Count == 0)
        {
            return null;
        }

        var endpoint = network is null ? networks.Values.First() : networks.TryGetValue(network.Name, out var e) ? e : null;
        return string.IsNullOrEmpty(endpoint?.IPAddress) ? null : endpoint.IPAddress;
    }

    /// <summary>Follows the container's output as it is written (from its first line), until the container stops or the token is canceled.</summary>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>The lines, as they arrive.</returns>
    public IAsyncEnumerable<DockerLogLine> FollowLogsAsync(CancellationToken cancellationToken = default) => FollowLogsAsync(null, cancellationToken);

    /// <summary>Follows the container's output as it is written, from lines written at or after <paramref name="since"/>,
    /// until the container stops or the token is canceled.</summary>
    /// <param name="since">The earliest time of lines to include; <see langword="null"/> for all.</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>The lines, as they arrive.</returns>
    public async IAsyncEnumerable<DockerLogLine> FollowLogsAsync(DateTimeOffset? since, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var parameters = new ContainerLogsParameters { Follow = true, ShowStdout = true, ShowStderr = true };
        if (since is { } from)
        {
            var ticks = from.ToUniversalTime().Ticks - DateTimeOffset.UnixEpoch.Ticks;
            parameters.Since = string.Create(CultureInfo.InvariantCulture, $"{ticks / TimeSpan.TicksPerSecond}.{(ticks % TimeSpan.TicksPerSecond) * 100:D9}");
        }

        var stream = await EngineErrors.CallAsync($"Following the logs of container '{Name}'", () => Client.Containers.GetContainerLogsAsync(Id,
            parameters, cancellationToken)).ConfigureAwait(false);
        using (stream)
        {
            await foreach (var line in LogLineReader.ReadLinesAsync(stream, cancellationToken).ConfigureAwait(false))
            {
                yield return line;
            }
        }
    }

    /// <summary>Reads the container's output written so far.</summary>
    /// <param name="tail">Only the last this many lines; <see langword="null"/> for all.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The lines, oldest first.</returns>
    public async Task<IReadOnlyList<DockerLogLine>> GetLogsAsync(int? tail = null, CancellationToken cancellationToken = default)
    {
        var stream = await EngineErrors.CallAsync($"Reading the logs of container '{Name}'", () => Client.Containers.GetContainerLogsAsync(Id,
            new ContainerLogsParameters
            {
                Follow = false,
                ShowStdout = true,
                ShowStderr = true,
                Tail = tail?.ToString(CultureInfo.InvariantCulture) ?? "all",
            }, cancellationToken)).ConfigureAwait(false);
        var lines = new List<DockerLogLine>();
        using (stream)
        {
            await foreach (var line in LogLineReader.ReadLinesAsync(stream, cancellationToken).ConfigureAwait(false))
            {
                lines.Add(line);
            }
        }

        return lines;
    }

    /// <summary>Runs a command inside the running container and collects its exit code and output.</summary>
    /// <param name="command">The command and its arguments (exec form, no shell).</param>
    /// <param name="cancellationToken">Cancels the command's wait (the command itself is not killed by the engine).</param>
    /// <returns>The exit code and output.</returns>
    public async Task<DockerExecResult> ExecAsync(IReadOnlyList<string> command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentOutOfRangeException.ThrowIfZero(command.Count);
        var operation = $"Running '{string.Join(' ', command)}' in container '{Name}'";
        var exec = await EngineErrors.CallAsync(operation, () => Client.Exec.CreateContainerExecAsync(Id, new ContainerExecCreateParameters
        {
            Cmd = command.ToList(),
            AttachStdout = true,
            AttachStderr = true,
        }, cancellationToken)).ConfigureAwait(false);
        string stdout, stderr;
        using (var stream = await EngineErrors.CallAsync(operation, () => Client.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters(), cancellationToken)).ConfigureAwait(false))
        {
            (stdout, stderr) = await stream.ReadOutputToEndAsync(cancellationToken).ConfigureAwait(false);
        }

        // The output ends before the engine records the exit code; look a few times (bounded).
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var inspect = await EngineErrors.CallAsync(operation, () => Client.Exec.InspectContainerExecAsync(exec.ID, cancellationToken)).ConfigureAwait(false);
            if (!inspect.Running && inspect.ExitCode is { } exitCode)
            {
                return new DockerExecResult(exitCode, stdout, stderr);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }

        throw new DockerEngineException(operation, null, "the engine did not report the exit code within 2 seconds after the output ended");
    }

    /// <summary>Runs a command inside the running container and collects its exit code and output.</summary>
    /// <param name="command">The command and its arguments (exec form, no shell).</param>
    /// <returns>The exit code and output.</returns>
    public Task<DockerExecResult> ExecAsync(params string[] command) => ExecAsync(command, CancellationToken.None);

    /// <summary>Copies a file into the container (running or not); missing directories are created.</summary>
    /// <param name="containerPath">The absolute path in the container.</param>
    /// <param name="content">The file's bytes.</param>
    /// <param name="mode">The file mode; <c>0</c> (the default) means 0644.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the file is in place.</returns>
    public Task CopyFileAsync(string containerPath, ReadOnlyMemory<byte> content, UnixFileMode mode = 0, CancellationToken cancellationToken = default)
    {
        TarFiles.ToRelative(containerPath);
        return CopyFilesAsync([(containerPath, content, mode)], cancellationToken);
    }

    internal async Task CopyFilesAsync(IEnumerable<(string Path, ReadOnlyMemory<byte> Content, UnixFileMode Mode)> files, CancellationToken cancellationToken)
    {
        using var tar = TarFiles.Create(files);
        await EngineErrors.CallAsync($"Copying files into container '{Name}'", () => Client.Containers.ExtractArchiveToContainerAsync(Id,
            new CopyToContainerParameters { Path = "/" }, tar, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Waits until <paramref name="waitStrategy"/> says the container is ready, within the strategy's timeout.
    /// Fails at once, with the exit code and last log lines, if the container exits meanwhile.</summary>
    /// <param name="waitStrategy">The condition.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when ready.</returns>
    /// <exception cref="DockerContainerNotReadyException">The container exited, the wait failed, or it timed out.</exception>
    public async Task WaitAsync(WaitStrategy waitStrategy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(waitStrategy);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(waitStrategy.Timeout);
        var exit = Client.Containers.WaitContainerAsync(Id, cts.Token);
        var ready = waitStrategy.WaitUntilReadyAsync(this, cts.Token);
        try
        {
            var first = await Task.WhenAny(ready, exit).ConfigureAwait(false);
            if (first == exit && exit.IsCompletedSuccessfully)
            {
                await cts.CancelAsync().ConfigureAwait(false);
                await Observe(ready).ConfigureAwait(false);
                throw Exited(waitStrategy, exit.Result.StatusCode, await TryGetLastLinesAsync().ConfigureAwait(false));
            }

            if (first == exit)
            {
                // The exit watch itself failed (for example the engine dropped the long poll); keep waiting on readiness alone.
                await Observe(exit).ConfigureAwait(false);
            }

            await ready.ConfigureAwait(false);
            ContainerLog.Ready(_logger, Name, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            var lines = await TryGetLastLinesAsync().ConfigureAwait(false);
            if (await ExitCodeIfExitedAsync().ConfigureAwait(false) is { } code)
            {
                throw Exited(waitStrategy, code, lines);
            }

            throw new DockerContainerNotReadyException(
                $"Container '{Name}' ({Image}) was not ready within {waitStrategy.Timeout.TotalSeconds:0.#} s ({Describe(waitStrategy)}). Last log lines:{FormatLines(lines)}",
                Name, null, lines, e);
        }
        catch (Exception e) when (e is not DockerContainerNotReadyException and not OperationCanceledException)
        {
            // A readiness probe may fail because the container just exited (its ports vanish): report the exit then.
            var exitCode = exit.IsCompletedSuccessfully ? exit.Result.StatusCode : await ExitCodeIfExitedAsync().ConfigureAwait(false);
            var lines = await TryGetLastLinesAsync().ConfigureAwait(false);
            if (exitCode is { } code)
            {
                throw Exited(waitStrategy, code, lines);
            }

            throw new DockerContainerNotReadyException(
                $"Waiting for container '{Name}' ({Image}) failed ({Describe(waitStrategy)}): {e.Message} Last log lines:{FormatLines(lines)}",
                Name, null, lines, e);
        }
        finally
        {
            await cts.CancelAsync().ConfigureAwait(false);
            await Observe(exit).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until the container exits and returns its exit code.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The exit code.</returns>
    public async Task<long> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        var response = await EngineErrors.CallAsync($"Waiting for container '{Name}' to exit", () => Client.Containers.WaitContainerAsync(Id, cancellationToken)).ConfigureAwait(false);
        return response.StatusCode;
    }

    /// <summary>When the container's previous run ended (its output after that belongs to the current run), or
    /// <see langword="null"/> when it never ran before. The current run's start time is not used: a fast process can write
    /// before the engine records that time.</summary>
    internal async Task<DateTimeOffset?> GetPreviousRunEndAsync(CancellationToken cancellationToken)
    {
        var inspect = await InspectAsync(cancellationToken).ConfigureAwait(false);
        return ParseEngineTime(inspect.State?.FinishedAt) is { Year: > 1 } finished ? finished : null;
    }

    /// <summary>Parses the engine's RFC 3339 times, which carry nanoseconds (more digits than .NET parses).</summary>
    internal static DateTimeOffset? ParseEngineTime(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            var fraction = text[(dot + 1)..end];
            text = text[..dot] + (fraction.Length > 7 ? "." + fraction[..7] : fraction.Length > 0 ? "." + fraction : "") + text[end..];
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value) ? value : null;
    }

    internal async Task<ContainerInspectResponse> InspectAsync(CancellationToken cancellationToken) =>
        await EngineErrors.CallAsync($"Inspecting container '{Name}'", () => Client.Containers.InspectContainerAsync(Id, cancellationToken)).ConfigureAwait(false);

    internal async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var inspect = await InspectAsync(cancellationToken).ConfigureAwait(false);
        var ports = new Dictionary<int, int>();
        if (inspect.NetworkSettings?.Ports is { } map)
        {
            foreach (var (key, bindings) in map)
            {
                var slash = key.IndexOf('/', StringComparison.Ordinal);
                if (bindings is null || !key.EndsWith("/tcp", StringComparison.Ordinal) ||
                    !int.TryParse(key.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out var containerPort))
                {
                    continue;
                }

                foreach (var binding in bindings)
                {
                    if (int.TryParse(binding.HostPort, NumberStyles.None, CultureInfo.InvariantCulture, out var hostPort) &&
                        _session.Engine.PublishedPorts.Matches(binding.HostIP))
                    {
                        ports[containerPort] = hostPort;
                        break;
                    }
                }
            }
        }

        _ports = ports.ToFrozenDictionary();
    }

    private DockerContainerNotReadyException Exited(WaitStrategy waitStrategy, long code, IReadOnlyList<string> lines) => new(
        $"Container '{Name}' ({Image}) exited with code {code} while waiting for it to be ready ({Describe(waitStrategy)}). Last log lines:{FormatLines(lines)}",
        Name, code, lines);

    private async Task<long?> ExitCodeIfExitedAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var state = await GetStateAsync(cts.Token).ConfigureAwait(false);
            return state.Status is "exited" or "dead" ? state.ExitCode : null;
        }
        catch (Exception e) when (EngineErrors.IsEngineFailure(e))
        {
            return null;
        }
    }

    private static async Task Observe(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Only observed, so that no exception goes unobserved; the caller reports the failure that matters.
        }
    }

    private static string Describe(WaitStrategy strategy) => strategy.GetType().Name.Replace("WaitStrategy", "", StringComparison.Ordinal) switch
    {
        "" => "custom wait",
        var name => "wait for " + name.ToLowerInvariant(),
    };

    private static string FormatLines(IReadOnlyList<string> lines) =>
        lines.Count == 0 ? " (none)" : Environment.NewLine + string.Join(Environment.NewLine, lines.Select(l => "  | " + l));

    private async Task<IReadOnlyList<string>> TryGetLastLinesAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var lines = await GetLogsAsync(LastLogLineCount, cts.Token).ConfigureAwait(false);
            return lines.Select(l => l.Text).ToArray();
        }
        catch (Exception e) when (EngineErrors.IsEngineFailure(e))
        {
            return [$"(could not read the logs: {e.Message})"];
        }
    }

    /// <summary>Removes the container (killing it if it runs). Safe to call more than once.</summary>
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
            await Client.Containers.RemoveContainerAsync(Id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cts.Token).ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            // Removal already in progress.
        }
        catch (DockerApiException e)
        {
            throw EngineErrors.Wrap($"Removing container '{Name}'", e);
        }
        catch (Exception e) when (EngineErrors.TranslateUnreachable($"Removing container '{Name}'", e) is { } translated)
        {
            throw translated;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
