using Docker.DotNet;
using Mesh.Containers.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Containers;

/// <summary>
/// A connection to a Docker (or Podman) engine over its Engine API, with the API version negotiated from
/// <c>GET /_ping</c>. Thread-safe; dispose it when done. Most code uses it through a <see cref="DockerSession"/>.
/// </summary>
public sealed class DockerEngine : IDisposable, IAsyncDisposable
{
    private int _disposed;

    private DockerEngine(DockerClient client, Uri endpoint, Version apiVersion, Version engineApiVersion, string? server, ILoggerFactory loggerFactory, DockerEngineOptions options)
    {
        Client = client;
        Endpoint = endpoint;
        ApiVersion = apiVersion;
        EngineApiVersion = engineApiVersion;
        Server = server;
        LoggerFactory = loggerFactory;
        Options = options;
    }

    /// <summary>The oldest Engine API version supported: 1.41 (Docker 20.10).</summary>
    public static Version MinimumApiVersion { get; } = new(1, 41);

    /// <summary>The newest Engine API version this client speaks: 1.52 (Docker 29).</summary>
    public static Version MaximumApiVersion { get; } = new(1, 52);

    /// <summary>The endpoint that answered, for example <c>unix:///var/run/docker.sock</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>The Engine API version in use: the highest version both this client and the engine speak.</summary>
    public Version ApiVersion { get; }

    /// <summary>The highest Engine API version the engine speaks (its <c>Api-Version</c> header).</summary>
    public Version EngineApiVersion { get; }

    /// <summary>The engine's <c>Server</c> header, for example <c>Docker/20.10.24+dfsg1 (linux)</c>, when it sent one.</summary>
    public string? Server { get; }

    /// <summary>The underlying Docker.DotNet client, for operations this library does not wrap.</summary>
    public IDockerClient Client { get; }

    internal ILoggerFactory LoggerFactory { get; }

    internal DockerEngineOptions Options { get; }

    /// <summary>Finds an engine (see <see cref="DockerEngineOptions.Endpoint"/> for the search order), negotiates the API version and connects.</summary>
    /// <param name="options">Where and how to connect; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>A connected engine.</returns>
    /// <exception cref="DockerEngineUnavailableException">No endpoint answered (the message lists each endpoint tried and how to start an engine), or the engine is older than API 1.41.</exception>
    public static Task<DockerEngine> ConnectAsync(DockerEngineOptions? options = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(options ?? new DockerEngineOptions(), Environment.GetEnvironmentVariable, cancellationToken);

    internal static async Task<DockerEngine> ConnectAsync(DockerEngineOptions options, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ConnectTimeout <= TimeSpan.Zero || options.RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "DockerEngineOptions.ConnectTimeout and RequestTimeout must be positive.");
        }

        var loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger<DockerEngine>();
        var candidates = EndpointCandidates.Get(options.Endpoint, environment);
        var failures = new List<string>(candidates.Count);
        Exception? last = null;
        foreach (var endpoint in candidates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (endpoint.Scheme == "unix" && !File.Exists(endpoint.LocalPath))
            {
                failures.Add($"{endpoint} (no socket file)");
                continue;
            }

            EnginePing.Answer answer;
            try
            {
                answer = await EnginePing.PingAsync(endpoint, options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutException or IOException or System.Net.Sockets.SocketException)
            {
                last = e;
                var reason = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
                failures.Add($"{endpoint} ({reason})");
                EngineLog.EndpointFailed(logger, endpoint, reason);
                continue;
            }

            var clientMaximum = options.MaximumApiVersion is { } max && max < MaximumApiVersion ? max : MaximumApiVersion;
            var apiVersion = ApiVersionNegotiator.Negotiate(endpoint, answer.ApiVersion, clientMaximum);
            ApiVersionNegotiator.TryParse(answer.ApiVersion!, out var engineApi);
            var client = new DockerClientBuilder()
                .WithEndpoint(endpoint)
                .WithApiVersion(apiVersion)
                .WithTimeout(options.RequestTimeout)
                .Build();
            EngineLog.Connected(logger, endpoint, answer.Server, apiVersion, engineApi);
            return new DockerEngine(client, endpoint, apiVersion, engineApi, answer.Server, loggerFactory, options);
        }

        throw new DockerEngineUnavailableException(
            "No Docker engine answered. Tried: " + string.Join("; ", failures) + ". " +
            "Start an engine, for example: as root 'dockerd >/tmp/dockerd.log 2>&1 &' (Debian: apt-get install -y docker.io) or 'systemctl start docker'; " +
            "rootless Docker: 'dockerd-rootless.sh'; Podman: 'systemctl --user start podman.socket'. " +
            "Or point DOCKER_HOST at a running engine (for example unix:///var/run/docker.sock).",
            candidates, last);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Client.Dispose();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
