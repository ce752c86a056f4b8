using System.Net;
using System.Text.RegularExpressions;
using Mesh.Containers.Internal;

namespace Mesh.Containers;

/// <summary>
/// When a started container counts as ready. Strategies are immutable values: combine them with <see cref="And"/>,
/// bound them with <see cref="WithTimeout"/>. Every wait has a finite timeout (<see cref="DefaultTimeout"/> unless set),
/// honours a <see cref="CancellationToken"/>, and fails at once, with the exit code and the last log lines,
/// when the container exits while being waited on.
/// Derive from this record for a custom condition and override <see cref="WaitUntilReadyAsync"/>.
/// </summary>
public abstract record WaitStrategy
{
    private readonly TimeSpan _timeout = DefaultTimeout;

    /// <summary>The timeout a strategy has unless <see cref="WithTimeout"/> sets another.</summary>
    /// <value>1 minute.</value>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromMinutes(1);

    /// <summary>How long the wait may take before it fails.</summary>
    public TimeSpan Timeout
    {
        get => _timeout;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _timeout = value;
        }
    }

    /// <summary>No wait: ready as soon as the engine has accepted the start. For one-shot containers whose end is awaited
    /// with <see cref="DockerContainer.WaitForExitAsync"/>.</summary>
    /// <returns>The strategy.</returns>
    public static WaitStrategy None() => new NoWaitStrategy();

    /// <summary>Ready as soon as the engine reports the container running.</summary>
    /// <returns>The strategy.</returns>
    public static WaitStrategy ForRunning() => new RunningWaitStrategy();

    /// <summary>Ready when the published host port of <paramref name="containerPort"/> on the engine's host
    /// (<see cref="DockerContainer.Host"/>) accepts a connection
    /// that the container keeps open (the engine's port proxy accepts and closes at once while nothing listens inside).</summary>
    /// <param name="containerPort">The container's TCP port; it must be published.</param>
    /// <returns>The strategy.</returns>
    public static WaitStrategy ForPort(int containerPort) => new PortWaitStrategy(CheckPort(containerPort));

    /// <summary>Ready when an HTTP GET of <paramref name="path"/> on the published port answers <paramref name="statusCode"/>.</summary>
    /// <param name="containerPort">The container's TCP port; it must be published.</param>
    /// <param name="path">The path to request.</param>
    /// <param name="statusCode">The status that means ready.</param>
    /// <returns>The strategy.</returns>
    public static WaitStrategy ForHttp(int containerPort, string path = "/", int statusCode = 200) =>
        ForHttp(containerPort, path, status => (int)status == statusCode);

    /// <summary>Ready when an HTTP GET of <paramref name="path"/> on the published port answers a status <paramref name="isReady"/> accepts.</summary>
    /// <param name="containerPort">The container's TCP port; it must be published.</param>
    /// <param name="path">The path to request.</param>
    /// <param name="isReady">Decides whether a status means ready.</param>
    /// <returns>The strategy.</returns>
    public static WaitStrategy ForHttp(int containerPort, string path, Func<HttpStatusCode, bool> isReady)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(isReady);
        return new HttpWaitStrategy(CheckPort(containerPort), path.StartsWith('/') ? path : "/" + path, isReady);
    }

    /// <summary>Ready when the container's output contains a line with <paramref name="text"/>, <paramref name="occurrences"/> times.
    /// The log stream is followed as it is written, not polled, from the end of the container's previous run (so a restart
    /// is not satisfied by the previous run's lines).</summary>
    /// <param name="text">The text to find (ordinal comparison).</param>
    /// <param name="occurrences">How many matching lines are needed.</param>
    /// <returns>The strategy.</returns>
    public static WaitStrategy ForLogLine(string text, int occurrences = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(occurrences, 1);
        return new LogLineWaitStrategy(text, null, occurrences);
    }

    /// <summary>Ready when <paramref name="occurrences"/> lines of the container's output match <paramref name="pattern"/>.
    /// The log stream is followed as it is written, not polled, from the end of the container's previous run.</summary>
    /// <param name="pattern">The pattern a line must match.</param>
    /// <param name="occurrences">How many matching lines are needed.</param>
    /// <returns>The strategy.</returns>
    public static WaitStrategy ForLogLine(Regex pattern, int occurrences = 1)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentOutOfRangeException.ThrowIfLessThan(occurrences, 1);
        return new LogLineWaitStrategy(null, pattern, occurrences);
    }

    /// <summary>Ready when the engine reports the container's health check as <c>healthy</c>; fails when it reports <c>unhealthy</c>
    /// or the container has no health check (set one with <see cref="DockerContainerBuilder.WithHealthCheck"/> or HEALTHCHECK in the Dockerfile).</summary>
    /// <returns>The strategy.</returns>
    public static WaitStrategy ForHealthy() => new HealthWaitStrategy();

    /// <summary>Ready when both this and <paramref name="other"/> are (they are waited on concurrently).
    /// The combination's timeout is the longer of the two.</summary>
    /// <param name="other">The other strategy.</param>
    /// <returns>The combined strategy.</returns>
    public WaitStrategy And(WaitStrategy other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var parts = new List<WaitStrategy>();
        foreach (var strategy in new[] { this, other })
        {
            if (strategy is AllWaitStrategy all)
            {
                parts.AddRange(all.Parts);
            }
            else
            {
                parts.Add(strategy);
            }
        }

        return new AllWaitStrategy(parts) { Timeout = Timeout > other.Timeout ? Timeout : other.Timeout };
    }

    /// <summary>Returns a copy of this strategy with another timeout.</summary>
    /// <param name="timeout">The new timeout; must be positive.</param>
    /// <returns>The copy.</returns>
    public WaitStrategy WithTimeout(TimeSpan timeout) => this with { Timeout = timeout };

    /// <summary>Waits until the container is ready. Called by the container, which bounds it with <see cref="Timeout"/>
    /// and fails it at once when the container exits; implementations poll or follow as they see fit and honour the token.</summary>
    /// <param name="container">The started container.</param>
    /// <param name="cancellationToken">Canceled on timeout, on container exit or by the caller.</param>
    /// <returns>A task that completes when the container is ready.</returns>
    protected internal abstract Task WaitUntilReadyAsync(DockerContainer container, CancellationToken cancellationToken);

    private static int CheckPort(int port)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        return port;
    }
}
