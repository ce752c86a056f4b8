using Mesh.Containers.Internal;
using Mesh.Discovery;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.Containers;

/// <summary>
/// The <c>Docker</c> discovery source: the running, unpaused (and, with a health check, healthy) containers labelled
/// <c>mesh.service={service}</c> become the service's endpoints — by default <c>http://{engine host}:{published port}</c> (<c>127.0.0.1</c> for an engine on this machine).
/// Updates follow the engine's event stream; after the engine or the stream fails, the watch reconnects with backoff and
/// resynchronises from a full listing, reporting the failure meanwhile (the last published set stays in use).
/// </summary>
public sealed class DockerDiscoveryProvider : IMeshDiscoveryProvider, IAsyncDisposable, IDisposable
{
    private readonly DockerDiscoveryOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly CancellationTokenSource _disposing = new();
    private DockerEngine? _engine;
    private int _disposed;

    /// <summary>Creates the provider.</summary>
    /// <param name="options">The options.</param>
    public DockerDiscoveryProvider(IOptions<DockerDiscoveryOptions> options)
        : this(options, NullLoggerFactory.Instance)
    {
    }

    /// <summary>Creates the provider.</summary>
    /// <param name="options">The options.</param>
    /// <param name="loggerFactory">Where watches log.</param>
    public DockerDiscoveryProvider(IOptions<DockerDiscoveryOptions> options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.Value;
        _loggerFactory = loggerFactory;
    }

    /// <summary>Always <c>Docker</c>.</summary>
    public string Name => "Docker";

    /// <inheritdoc />
    public IAsyncDisposable Watch(MeshDiscoveryContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!DockerServiceWatch.Settings.TryRead(_options, context.Configuration, out var settings, out var errors))
        {
            // Reported on start by validation; a watch started anyway (without a host) reports the problem instead of throwing.
            context.ReportFailure(new InvalidOperationException(string.Join(" ", errors)));
            return new StoppedWatch();
        }

        CancellationToken disposing;
        try
        {
            disposing = _disposing.Token;
        }
        catch (ObjectDisposedException)
        {
            throw new ObjectDisposedException(nameof(DockerDiscoveryProvider));
        }

        return new DockerServiceWatch(this, context, settings, _options, _loggerFactory.CreateLogger<DockerDiscoveryProvider>(), disposing);
    }

    private sealed class StoppedWatch : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    internal async Task<DockerEngine> GetEngineAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _engine) is { } engine)
        {
            return engine;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_engine is null)
            {
                var engineOptions = _options.Engine;
                if (engineOptions.LoggerFactory is null)
                {
                    engineOptions = new DockerEngineOptions
                    {
                        Endpoint = engineOptions.Endpoint,
                        ConnectTimeout = engineOptions.ConnectTimeout,
                        RequestTimeout = engineOptions.RequestTimeout,
                        MaximumApiVersion = engineOptions.MaximumApiVersion,
                        LoggerFactory = _loggerFactory,
                    };
                }

                Volatile.Write(ref _engine, await DockerEngine.ConnectAsync(engineOptions, cancellationToken).ConfigureAwait(false));
            }

            return _engine!;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>Stops every watch and releases the engine connection.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _disposing.Cancel();
        Interlocked.Exchange(ref _engine, null)?.Dispose();
        _connectLock.Dispose();
        _disposing.Dispose();
    }

    /// <summary>Stops every watch and releases the engine connection.</summary>
    /// <returns>A task that completes when released.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _engine, null) is { } engine)
        {
            await engine.DisposeAsync().ConfigureAwait(false);
        }

        _connectLock.Dispose();
        _disposing.Dispose();
    }
}
