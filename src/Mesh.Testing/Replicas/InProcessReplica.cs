using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing;

/// <summary>
/// A test replica running in this process: Kestrel on a loopback port, answering every request with its replica id
/// (header <c>x-replica-id</c> and body), with <c>/healthz</c> and a control API (<c>/control/...</c>) to inject
/// latency, errors, hangs and unhealthy status at run time (<c>POST /control/{latency|latency-rate|errors|hang|healthy|version|grpc-status|grpc-after-messages|reset}?value=...</c>,
/// latency in milliseconds, the gRPC status by name). With <see cref="InProcessReplicaOptions.EnableGrpc"/> it also serves
/// gRPC: the standard health service and its own <c>mesh.testing.v1.ReplicaService</c> (<see cref="ReplicaService"/>).
/// Stopping it closes its listener (connections are refused afterwards); starting it again listens on the same port.
/// </summary>
public sealed class InProcessReplica : IAsyncDisposable
{
    /// <summary>The response header that names the replica that answered.</summary>
    public const string ReplicaHeader = "x-replica-id";

    /// <summary>The response header with the replica's version, when it has one.</summary>
    public const string VersionHeader = "x-replica-version";

    private readonly InProcessReplicaOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private WebApplication? _app;
    private long _requests;

    private InProcessReplica(string id, InProcessReplicaOptions options)
    {
        Id = id;
        _options = options;
        Behavior.Version = options.Version;
    }

    /// <summary>The replica id it answers with.</summary>
    public string Id { get; }

    /// <summary>Its behaviour, changeable at run time.</summary>
    public ReplicaBehavior Behavior { get; } = new();

    /// <summary>The loopback port it listens on (kept across restarts).</summary>
    public int Port { get; private set; }

    /// <summary>Its address, for example <c>http://127.0.0.1:41234</c>.</summary>
    public Uri Address => new($"{(_options.ConfigureHttps is null ? "http" : "https")}://127.0.0.1:{Port}");

    /// <summary>Whether it is listening.</summary>
    public bool IsRunning => _app is not null;

    /// <summary>Requests answered (or started) since it was created, control and health requests excluded.</summary>
    public long RequestCount => Interlocked.Read(ref _requests);

    /// <summary>Starts a replica.</summary>
    /// <param name="id">The replica id it answers with.</param>
    /// <param name="options">Protocols, port, TLS; defaults: HTTP/1.1 on a free loopback port.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<InProcessReplica> StartAsync(string id, InProcessReplicaOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        var replica = new InProcessReplica(id, options ?? new InProcessReplicaOptions());
        replica.Port = replica._options.Port;
        await replica.StartAsync(cancellationToken).ConfigureAwait(false);
        return replica;
    }

    /// <summary>
    /// Runs the test replica as the program of a process (what the test replica image runs, and what a replica project of
    /// your own can call from its <c>Program</c>): listens on all interfaces at <c>REPLICA_PORT</c> (default 8080) with the
    /// id <c>REPLICA_ID</c> (default: the host name) and the version <c>REPLICA_VERSION</c>; <c>REPLICA_GRPC=true</c> adds
    /// the gRPC health service (the port then speaks HTTP/2 only, h2c). Returns 0 when <c>SIGTERM</c>, Ctrl+C or
    /// <paramref name="cancellationToken"/> stops it, 2 when a variable has a bad value.
    /// </summary>
    /// <param name="cancellationToken">Stops the replica.</param>
    /// <returns>The process exit code.</returns>
    public static async Task<int> RunAsProcessAsync(CancellationToken cancellationToken = default)
    {
        var id = Environment.GetEnvironmentVariable(ContainerReplicaTemplate.IdVariable) is { Length: > 0 } configured ? configured : Environment.MachineName;
        var version = Environment.GetEnvironmentVariable(ContainerReplicaTemplate.VersionVariable) is { Length: > 0 } v ? v : null;
        var portText = Environment.GetEnvironmentVariable(ContainerReplicaTemplate.PortVariable) is { Length: > 0 } p ? p : "8080";
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            await Console.Error.WriteLineAsync($"{ContainerReplicaTemplate.PortVariable}: '{portText}' is not a TCP port (1 to 65535).").ConfigureAwait(false);
            return 2;
        }

        var grpc = string.Equals(Environment.GetEnvironmentVariable("REPLICA_GRPC"), "true", StringComparison.OrdinalIgnoreCase);
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stopped.TrySetResult();
        });
        using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            stopped.TrySetResult();
        });
        using var cancelled = cancellationToken.Register(() => stopped.TrySetResult());

        await using var replica = await StartAsync(id, new InProcessReplicaOptions { Port = port, Version = version, ListenAddress = IPAddress.Any, EnableGrpc = grpc }, cancellationToken).ConfigureAwait(false);
        Console.WriteLine($"replica {id} (version {version ?? "none"}) listening on port {port.ToString(CultureInfo.InvariantCulture)}");
        await stopped.Task.ConfigureAwait(false);
        Console.WriteLine($"replica {id} stopping");
        return 0;
    }

    /// <summary>Starts listening again (on the same port) after <see cref="StopAsync"/>.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_app is not null)
            {
                return;
            }

            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Listen(_options.ListenAddress, Port, listen =>
                {
                    // gRPC needs HTTP/2; without TLS (no ALPN) Kestrel can only speak it on an HTTP/2-only endpoint.
                    listen.Protocols = !_options.EnableGrpc || _options.Protocols != HttpProtocols.Http1 ? _options.Protocols
                        : _options.ConfigureHttps is null ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2;
                    _options.ConfigureHttps?.Invoke(listen);
                });
                kestrel.AddServerHeader = false;
            });
            if (_options.EnableGrpc)
            {
                builder.Services.AddGrpc();
                builder.Services.AddSingleton(Behavior);
                builder.Services.AddSingleton(this);
            }

            _options.ConfigureServices?.Invoke(builder.Services);
            var app = builder.Build();
            app.Use((context, next) =>
            {
                // Every answer, gRPC included, names the replica that gave it.
                context.Response.Headers[ReplicaHeader] = Id;
                return next(context);
            });
            _options.ConfigureApp?.Invoke(app);
            if (_options.EnableGrpc)
            {
                app.MapGrpcService<ReplicaGrpcHealthService>();
                app.MapGrpcService<ReplicaGrpcService>();
            }

            Map(app);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            Port = new Uri(app.Urls.First()).Port;
            _app = app;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes the listener: in-flight requests are abandoned after <paramref name="drain"/> and new
    /// connections are refused, as when a process dies or is stopped.</summary>
    /// <param name="drain">How long in-flight requests may finish. Default: zero (abrupt).</param>
    public async Task StopAsync(TimeSpan? drain = null)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_app is not { } app)
            {
                return;
            }

            _app = null;
            using var timeout = new CancellationTokenSource(drain ?? TimeSpan.Zero);
            try
            {
                await app.StopAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            await app.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/healthz", context =>
        {
            context.Response.Headers[ReplicaHeader] = Id;
            context.Response.StatusCode = Behavior.Healthy ? 200 : 503;
            return context.Response.WriteAsync(Behavior.Healthy ? "healthy" : "unhealthy", context.RequestAborted);
        });
        app.MapPost("/control/latency", context => Control(context, v => Behavior.Latency = TimeSpan.FromMilliseconds(double.Parse(v, CultureInfo.InvariantCulture))));
        app.MapPost("/control/latency-rate", context => Control(context, v => Behavior.LatencyRate = double.Parse(v, CultureInfo.InvariantCulture)));
        app.MapPost("/control/errors", context => Control(context, v => Behavior.ErrorRate = double.Parse(v, CultureInfo.InvariantCulture)));
        app.MapPost("/control/hang", context => Control(context, v => Behavior.Hang = bool.Parse(v)));
        app.MapPost("/control/healthy", context => Control(context, v => Behavior.Healthy = bool.Parse(v)));
        app.MapPost("/control/version", context => Control(context, v => Behavior.Version = v.Length == 0 ? null : v));
        app.MapPost("/control/grpc-status", context => Control(context, v => Behavior.GrpcErrorStatus = ParseStatus(v)));
        app.MapPost("/control/grpc-after-messages", context => Control(context, v => Behavior.GrpcStatusAfterMessages = bool.Parse(v)));
        app.MapPost("/control/reset", context => Control(context, _ => Behavior.Reset()));
        app.MapFallback(HandleAsync);
    }

    private static Grpc.Core.StatusCode ParseStatus(string value) =>
        value.Length > 0 && char.IsLetter(value[0]) && Enum.TryParse<Grpc.Core.StatusCode>(value.Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var status) && Enum.IsDefined(status)
            ? status
            : throw new FormatException($"'{value}' is not a gRPC status name.");

    /// <summary>Counts a request of the replica's own services (HTTP fallback, gRPC).</summary>
    internal void CountRequest() => Interlocked.Increment(ref _requests);

    private static Task Control(HttpContext context, Action<string> apply)
    {
        var value = context.Request.Query["value"].ToString();
        try
        {
            apply(value);
            context.Response.StatusCode = 204;
        }
        catch (FormatException)
        {
            context.Response.StatusCode = 400;
        }

        return Task.CompletedTask;
    }

    private async Task HandleAsync(HttpContext context)
    {
        CountRequest();
        var aborted = context.RequestAborted;
        if (Behavior.Hang)
        {
            await Task.Delay(Timeout.Infinite, aborted).ConfigureAwait(false);
        }

        var latency = Behavior.Latency;
        var latencyRate = Behavior.LatencyRate;
        if (latency > TimeSpan.Zero && (latencyRate >= 1 || System.Random.Shared.NextDouble() < latencyRate))
        {
            await Task.Delay(latency, aborted).ConfigureAwait(false);
        }

        context.Response.Headers[ReplicaHeader] = Id;
        if (Behavior.Version is { } version)
        {
            context.Response.Headers[VersionHeader] = version;
        }

        var rate = Behavior.ErrorRate;
        if (rate > 0 && System.Random.Shared.NextDouble() < rate)
        {
            context.Response.StatusCode = 500;
            await context.Response.WriteAsync($"{Id} injected error", aborted).ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(Id, aborted).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Id} at {Address}");
}

/// <summary>Options of an <see cref="InProcessReplica"/>.</summary>
public sealed class InProcessReplicaOptions
{
    /// <summary>The port; 0 picks a free one. Default: 0.</summary>
    public int Port { get; set; }

    /// <summary>The address to listen on. Default: 127.0.0.1 (use <see cref="IPAddress.Any"/> inside a container).</summary>
    public IPAddress ListenAddress { get; set; } = IPAddress.Loopback;

    /// <summary>The HTTP protocols. Default: HTTP/1.1 (use <see cref="HttpProtocols.Http2"/> for gRPC over h2c).</summary>
    public HttpProtocols Protocols { get; set; } = HttpProtocols.Http1;

    /// <summary>The version the replica reports. Default: none.</summary>
    public string? Version { get; set; }

    /// <summary>Configures HTTPS on the listener (for example mTLS with an SVID); <see langword="null"/> for plain HTTP.</summary>
    public Action<ListenOptions>? ConfigureHttps { get; set; }

    /// <summary>Serves gRPC: the standard health service (<c>grpc.health.v1.Health</c>), answering SERVING or NOT_SERVING
    /// from <see cref="ReplicaBehavior.Healthy"/>, and <c>mesh.testing.v1.ReplicaService</c> (<see cref="ReplicaService"/>:
    /// unary and server-streaming calls that end with a chosen status, trailers-only or after the replies), both honouring
    /// the injected latency, hang and errors; every gRPC answer carries the <c>x-replica-id</c> header. Without TLS the listener becomes HTTP/2-only (h2c), so HTTP/1.1 requests
    /// (and HTTP health checks) no longer reach it: use <c>HealthCheck:Protocol: Grpc</c>. Default: false.</summary>
    public bool EnableGrpc { get; set; }

    /// <summary>Adds services to the replica's host (for example gRPC).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; set; }

    /// <summary>Adds endpoints to the replica's app (for example gRPC services); runs before the default routes.</summary>
    public Action<WebApplication>? ConfigureApp { get; set; }
}
