using System.Security.Authentication;
using Docker.DotNet;
using ImageDeleteParameters = Docker.DotNet.Models.ImageDeleteParameters;
using Mesh.Containers.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Containers;

/// <summary>
/// A connection to a Docker (or Podman) engine over its Engine API — a local socket, TCP, or TCP with TLS and client
/// certificates — with the API version negotiated from <c>GET /_ping</c>. Thread-safe; dispose it when done. Most code
/// uses it through a <see cref="DockerSession"/>.
/// </summary>
public sealed class DockerEngine : IDisposable, IAsyncDisposable
{
    private readonly EngineTls? _tls;
    private int _disposed;

    private DockerEngine(DockerClient client, EngineEndpoint endpoint, EngineTls? tls, EnginePing.Answer answer, Version apiVersion, Version engineApiVersion,
        PublishedPortHost publishedPorts, string engineSocketPath, ILoggerFactory loggerFactory, DockerEngineOptions options)
    {
        Client = client;
        _tls = tls;
        Endpoint = endpoint.Address;
        Context = endpoint.Context;
        ApiVersion = apiVersion;
        EngineApiVersion = engineApiVersion;
        Server = answer.Server;
        PublishedPorts = publishedPorts;
        EngineSocketPath = engineSocketPath;
        LoggerFactory = loggerFactory;
        Options = options;
    }

    /// <summary>The oldest Engine API version supported: 1.41 (Docker 20.10).</summary>
    public static Version MinimumApiVersion { get; } = new(1, 41);

    /// <summary>The newest Engine API version this client speaks: 1.52 (Docker 29).</summary>
    public static Version MaximumApiVersion { get; } = new(1, 52);

    /// <summary>The endpoint that answered, for example <c>unix:///var/run/docker.sock</c> or <c>tcp://docker:2376</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>Whether the connection uses TLS (the engine's certificate verified, a client certificate presented when configured).</summary>
    public bool UsesTls => _tls is not null;

    /// <summary>The docker context the endpoint came from, or <see langword="null"/> when it did not come from a context.</summary>
    public string? Context { get; }

    /// <summary>The host published container ports are reached on: <c>127.0.0.1</c> for an engine on this machine, the host of a
    /// remote engine's endpoint (for example <c>docker</c>), or <see cref="DockerEngineOptions.PublishedPortHost"/> /
    /// <c>TESTCONTAINERS_HOST_OVERRIDE</c>.</summary>
    public string Host => PublishedPorts.Host;

    /// <summary>The Engine API version in use: the highest version both this client and the engine speak.</summary>
    public Version ApiVersion { get; }

    /// <summary>The highest Engine API version the engine speaks (its <c>Api-Version</c> header).</summary>
    public Version EngineApiVersion { get; }

    /// <summary>The engine's <c>Server</c> header, for example <c>Docker/20.10.24+dfsg1 (linux)</c>, when it sent one.</summary>
    public string? Server { get; }

    /// <summary>The Docker.DotNet client. Internal: the public API wraps what users need instead of exposing Docker.DotNet types.</summary>
    internal IDockerClient Client { get; }

    /// <summary>Where published ports are reached and the address they are bound to.</summary>
    internal PublishedPortHost PublishedPorts { get; }

    /// <summary>The engine's socket on the engine's machine, for <see cref="DockerContainerBuilder.WithDockerSocket(string)"/>.</summary>
    internal string EngineSocketPath { get; }

    internal ILoggerFactory LoggerFactory { get; }

    internal DockerEngineOptions Options { get; }

    /// <summary>Finds an engine (see <see cref="DockerEngineOptions.Endpoint"/> for the search order), negotiates the API version and connects.</summary>
    /// <param name="options">Where and how to connect; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>A connected engine.</returns>
    /// <exception cref="DockerEngineUnavailableException">No endpoint answered (the message lists each endpoint tried and how to start an engine);
    /// the engine is older than API 1.41; the TLS material is missing, expired or does not match the engine (the message names the file and the reason);
    /// or the environment names an engine that cannot be used (an unknown docker context, an ssh endpoint).</exception>
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
        var timeProvider = options.TimeProvider ?? TimeProvider.System;
        var candidates = EndpointCandidates.Get(options, environment);
        var maximum = options.MaximumApiVersion ?? EngineVariables.ApiVersion(environment);
        var clientMaximum = maximum is { } max && max < MaximumApiVersion ? max : MaximumApiVersion;
        var failures = new List<string>(candidates.Count);
        Exception? last = null;
        foreach (var endpoint in candidates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var address = endpoint.Address;
            if (address.Scheme == "unix" && !File.Exists(address.LocalPath))
            {
                failures.Add($"{address} (no socket file)");
                continue;
            }

            var publishedPorts = PublishedPortHost.Resolve(address, options.PublishedPortHost, environment);
            var tls = endpoint.Tls is { } settings ? EngineTls.Load(settings, address, timeProvider) : null;
            try
            {
                var verifier = tls?.CreateVerifier(address, timeProvider);
                EnginePing.Answer answer;
                try
                {
                    answer = await EnginePing.PingAsync(address, tls, verifier, options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpRequestException or TimeoutException or IOException or System.Net.Sockets.SocketException or AuthenticationException)
                {
                    if (tls is not null && TlsFailure(address, endpoint, tls, verifier!, e) is { } tlsFailure)
                    {
                        throw tlsFailure;
                    }

                    last = e;
                    var reason = Reason(e);
                    if (tls is null && !EndpointCandidates.IsSocket(address) && (address.Port == 2376 || IsAnswerButNotHttp(e)))
                    {
                        reason += "; if the engine listens with TLS (port 2376 by convention), set DOCKER_TLS_VERIFY=1 (or DockerEngineOptions.TlsVerify) and DOCKER_CERT_PATH";
                    }

                    failures.Add($"{address} ({reason})");
                    EngineLog.EndpointFailed(logger, address, reason);
                    tls?.Dispose();
                    tls = null;
                    continue;
                }

                var apiVersion = ApiVersionNegotiator.Negotiate(address, answer.ApiVersion, clientMaximum);
                ApiVersionNegotiator.TryParse(answer.ApiVersion!, out var engineApi);
                var builder = new DockerClientBuilder()
                    .WithEndpoint(address)
                    .WithApiVersion(apiVersion)
                    .WithTimeout(options.RequestTimeout);
                if (tls is not null)
                {
                    builder = builder.WithAuthProvider(tls.CreateCredentials(tls.CreateVerifier(address, timeProvider)));
                }

                var socketPath = options.EngineSocketPath
                    ?? EngineVariables.Get(environment, EngineVariables.SocketOverride)
                    ?? (address.Scheme == "unix" ? address.LocalPath : EndpointCandidates.DefaultSocket);
                var client = builder.Build();
                EngineLog.Connected(logger, address, answer.Server, apiVersion, engineApi, endpoint.Source, tls is not null, publishedPorts.Host);
                return new DockerEngine(client, endpoint, tls, answer, apiVersion, engineApi, publishedPorts, socketPath, loggerFactory, options);
            }
            catch
            {
                tls?.Dispose();
                throw;
            }
        }

        throw new DockerEngineUnavailableException(
            "No Docker engine answered. Tried: " + string.Join("; ", failures) + ". " +
            "Start an engine, for example: as root 'dockerd >/tmp/dockerd.log 2>&1 &' (Debian: apt-get install -y docker.io) or 'systemctl start docker'; " +
            "rootless Docker: 'dockerd-rootless.sh'; Podman: 'systemctl --user start podman.socket'. " +
            "Or point DOCKER_HOST at a running engine (for example unix:///var/run/docker.sock), or select a docker context (DOCKER_CONTEXT).",
            candidates.Select(c => c.Address).ToArray(), last);
    }

    /// <summary>Removes an image by reference or id (for example one of the content-hash tags the builders make).</summary>
    /// <param name="reference">The image reference (<c>demo/site:3f2a…</c>) or id.</param>
    /// <param name="force">Also remove it when containers (stopped ones included) use it, or when it has several tags.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns><see langword="true"/> when it was removed, <see langword="false"/> when there was no such image.</returns>
    /// <exception cref="DockerEngineException">The engine refused, for example because a container uses the image and <paramref name="force"/> is off (409).</exception>
    public async Task<bool> RemoveImageAsync(string reference, bool force = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reference);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        try
        {
            await EngineErrors.CallAsync($"Removing image '{reference}'",
                () => Client.Images.DeleteImageAsync(reference, new ImageDeleteParameters { Force = force }, cancellationToken)).ConfigureAwait(false);
            return true;
        }
        catch (DockerEngineException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Client.Dispose();
            _tls?.Dispose();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Reason(Exception e) => e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;

    /// <summary>A failure of the TLS handshake as a precise error, or <see langword="null"/> when the connection failed before TLS.</summary>
    private static DockerEngineUnavailableException? TlsFailure(Uri address, EngineEndpoint endpoint, EngineTls tls, EngineCertificateVerifier verifier, Exception error)
    {
        if (verifier.Failure is { } refused)
        {
            return new DockerEngineUnavailableException(
                $"The engine at {address} ({endpoint.Source}) could not be verified over TLS: {refused}.", [address], error);
        }

        var chain = new List<Exception>();
        for (var e = error; e is not null; e = e.InnerException)
        {
            chain.Add(e);
        }

        if (chain.Any(e => e is System.Net.Sockets.SocketException) || error is TimeoutException)
        {
            return null;
        }

        if (!chain.Any(e => e is AuthenticationException or IOException))
        {
            return null;
        }

        var reason = string.Join(" / ", chain.Skip(1).Select(e => e.Message).Distinct());
        var what = chain.Any(e => e is AuthenticationException)
            ? "refused the TLS handshake"
            : "closed the connection right after the TLS handshake, without answering";
        return new DockerEngineUnavailableException(
            $"The engine at {address} ({endpoint.Source}) {what} ({reason}). {tls.ExplainRejectedHandshake()}.", [address], error);
    }

    /// <summary>Whether something accepted the connection but did not answer HTTP (for example a TLS endpoint reached without TLS).</summary>
    private static bool IsAnswerButNotHttp(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is System.Net.Sockets.SocketException or TimeoutException)
            {
                return false;
            }
        }

        return error is HttpRequestException;
    }
}
