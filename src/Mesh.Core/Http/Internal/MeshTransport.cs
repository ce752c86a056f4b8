using System.Net;
using System.Runtime.CompilerServices;
using Mesh.Endpoints.Internal;
using Mesh.Identity;
using Mesh.Services.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Http.Internal;

/// <summary>
/// The connections the mesh sends over, shared by the whole process and outliving the handler rotations of
/// IHttpClientFactory (so connection pools and endpoint statistics are not reset every two minutes):
/// one <see cref="EndpointPool"/> per plain-http endpoint (requests keep their logical URI; the pool dials the
/// endpoint), one <see cref="SocketsHttpHandler"/> for requests that are not the mesh's, and — when the workload has an
/// identity — one per service for <c>https</c> endpoints, configured by <see cref="MeshTlsClient"/> to present the current SVID and to accept only
/// servers proving the service's <c>ServerIdentity</c>. When a service's <c>ServerIdentity</c> changes, its pool is
/// replaced and the old one is disposed a minute later (on the injected clock), once its requests have finished.
/// Connection lifetime is bounded so that endpoint and certificate changes reach pooled connections.
/// </summary>
internal sealed class MeshTransport : IDisposable
{
    private readonly Lock _gate = new();
    private readonly SocketsHttpHandler _handler;
    private readonly HttpMessageInvoker _invoker;
    private readonly TimeSpan _connectTimeout;
    private readonly bool _http2Upgrade;
    private readonly IMeshIdentitySource? _identity;
    private readonly IDisposable? _ownedIdentity;
    private readonly ILogger? _logger;
    private readonly TimeProvider? _time;
    private readonly List<HttpMessageInvoker> _tlsInvokers = [];
    private readonly ConditionalWeakTable<ServiceRuntime, TlsPool> _tlsPools = new();
    private readonly Dictionary<string, EndpointPool> _endpointPools = new(StringComparer.Ordinal);
    private readonly ITimer _sweep;
    private bool _disposed;

    /// <summary>How long a replaced mTLS pool lives on for the requests still using it.</summary>
    internal static readonly TimeSpan RetiredPoolLifetime = TimeSpan.FromMinutes(1);

    public MeshTransport(MeshOptions options, IMeshIdentitySource? identity = null, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _connectTimeout = options.ConnectTimeout; // validated with the options (MeshOptions.ConnectTimeout's range)
        _http2Upgrade = options.Http2Upgrade;
        _handler = NewHandler();
        _invoker = new HttpMessageInvoker(_handler, disposeHandler: false);
        _logger = loggerFactory?.CreateLogger("Mesh.Identity.Client");
        _time = timeProvider;
        _identity = identity;
        _sweep = (timeProvider ?? TimeProvider.System).CreateTimer(static state => ((MeshTransport)state!).Sweep(), this, RetiredPoolLifetime, RetiredPoolLifetime);
        if (_identity is null && options.Identity.CertificatePath is not null && options.Identity.TryValidate(out _))
        {
            var source = new MeshFileIdentitySource(options.Identity, loggerFactory?.CreateLogger<MeshFileIdentitySource>(), timeProvider);
            _identity = source;
            _ownedIdentity = source;
        }
    }

    /// <summary>The workload's identity, when mTLS is configured.</summary>
    public IMeshIdentitySource? Identity => _identity;

    /// <summary>The connect timeout in effect.</summary>
    public TimeSpan ConnectTimeout => _connectTimeout;

    /// <summary>Sends a request to <paramref name="endpoint"/> (null: a request that is not the mesh's, sent where its URI
    /// says). To a plain-http endpoint the request may carry its logical URI: the endpoint's own pool dials the endpoint;
    /// to an https endpoint it was rewritten to the endpoint (the TLS name and the pool are the endpoint's).</summary>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, EndpointState? endpoint, CancellationToken cancellationToken)
    {
        if (endpoint is { Service: { } service })
        {
            if (endpoint.Scheme == Uri.UriSchemeHttps)
            {
                if (_identity is not null)
                {
                    if (_http2Upgrade)
                    {
                        UpgradeToHttp2(request);
                    }

                    return TlsInvoker(service).SendAsync(request, cancellationToken);
                }
            }
            else if (service.Settings.RequiresMutualTls)
            {
                // Plain-http endpoints never join such a service's set; this guards the window of a reconfiguration.
                return Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.SecureConnectionError,
                    $"Mesh service '{service.Name}' requires mutual TLS; the request was not sent to the plain-http endpoint {endpoint.Key}."));
            }
            else
            {
                return PoolOf(endpoint).Invoker.SendAsync(request, cancellationToken);
            }
        }

        return _invoker.SendAsync(request, cancellationToken);
    }

    /// <summary>The plain-http pool of <paramref name="endpoint"/>: the one it holds, else the one of its address (another
    /// service's endpoint at the same address shares it), else a new one.</summary>
    internal EndpointPool PoolOf(EndpointState endpoint)
    {
        if (endpoint.Pool is { Retired: false } pool)
        {
            pool.Touch();
            return pool;
        }

        return AttachPool(endpoint);
    }

    private EndpointPool AttachPool(EndpointState endpoint)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var key = EndpointPool.KeyOf(endpoint.Host, endpoint.Port);
            if (!_endpointPools.TryGetValue(key, out var pool) || pool.Retired)
            {
                pool = new EndpointPool(endpoint.Host, endpoint.Port, NewHandler(), _time ?? TimeProvider.System);
                _endpointPools[key] = pool;
            }

            pool.Attach(endpoint);
            pool.Touch();
            endpoint.Pool = pool;
            return pool;
        }
    }

    /// <summary>Disposes the pools of endpoints that left their services and have been idle for
    /// <see cref="RetiredPoolLifetime"/> (their requests have finished; idle connections closed after a minute anyway).</summary>
    internal void Sweep()
    {
        List<EndpointPool>? retired = null;
        lock (_gate)
        {
            foreach (var pool in _endpointPools.Values)
            {
                if (pool.TryRetire(RetiredPoolLifetime))
                {
                    (retired ??= []).Add(pool);
                }
            }

            foreach (var pool in retired ?? [])
            {
                _endpointPools.Remove(pool.Key);
            }
        }

        foreach (var pool in retired ?? [])
        {
            pool.Dispose();
        }
    }

    /// <summary>The plain-http endpoint pools alive (for tests).</summary>
    internal int EndpointPoolCount
    {
        get
        {
            lock (_gate)
            {
                return _endpointPools.Count;
            }
        }
    }

    /// <summary>Asks for HTTP/2 on a request over mutual TLS (<see cref="MeshOptions.Http2Upgrade"/>): ALPN offers h2 and
    /// http/1.1, so the server decides. Left alone: a request that chose its version (anything but 1.1, or an exact
    /// policy) and a protocol upgrade (WebSockets over HTTP/1.1). The request keeps the new version: a resend to a
    /// plain-http endpoint goes out as HTTP/1.1 all the same (h2c needs an exact version policy).</summary>
    private static void UpgradeToHttp2(HttpRequestMessage request)
    {
        if (request.Version == HttpVersion.Version11 && request.VersionPolicy == HttpVersionPolicy.RequestVersionOrLower &&
            !request.Headers.NonValidated.Contains("Upgrade"))
        {
            request.Version = HttpVersion.Version20;
        }
    }

    /// <summary>The service's mTLS pool for its current <c>ServerIdentity</c>.</summary>
    private HttpMessageInvoker TlsInvoker(ServiceRuntime service)
    {
        var expected = service.Settings.ServerIdentity;
        if (_tlsPools.TryGetValue(service, out var pool) && ReferenceEquals(pool.ServerIdentity, expected))
        {
            return pool.Invoker;
        }

        return CreateTlsInvoker(service, expected);
    }

    private HttpMessageInvoker CreateTlsInvoker(ServiceRuntime service, SpiffeIdPattern? serverIdentity)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_tlsPools.TryGetValue(service, out var existing))
            {
                if (ReferenceEquals(existing.ServerIdentity, serverIdentity))
                {
                    return existing.Invoker;
                }

                Retire(existing.Invoker);
            }

            var expected = serverIdentity ?? SpiffeIdPattern.AnyInTrustDomain(_identity!.Current.Id.TrustDomain);
            var handler = MeshTlsClient.Configure(NewHandler(), _identity!, expected, _logger, _time);
            var invoker = new HttpMessageInvoker(handler, disposeHandler: true);
            _tlsInvokers.Add(invoker);
            _tlsPools.AddOrUpdate(service, new TlsPool(serverIdentity, invoker));
            return invoker;
        }
    }

    /// <summary>Disposes a replaced pool after <see cref="RetiredPoolLifetime"/>, so requests in flight on it finish.</summary>
    private void Retire(HttpMessageInvoker invoker)
    {
        ITimer? timer = null;
        timer = (_time ?? TimeProvider.System).CreateTimer(_ =>
        {
            lock (_gate)
            {
                if (_tlsInvokers.Remove(invoker))
                {
                    invoker.Dispose();
                }
            }

            timer?.Dispose();
        }, null, RetiredPoolLifetime, Timeout.InfiniteTimeSpan);
    }

    private SocketsHttpHandler NewHandler() => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        ConnectTimeout = _connectTimeout,
        EnableMultipleHttp2Connections = true,
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = int.MaxValue,
    };

    public void Dispose()
    {
        _sweep.Dispose();
        _invoker.Dispose();
        _handler.Dispose();
        lock (_gate)
        {
            _disposed = true;
            foreach (var pool in _endpointPools.Values)
            {
                pool.Dispose();
            }

            _endpointPools.Clear();
            foreach (var invoker in _tlsInvokers)
            {
                invoker.Dispose();
            }

            _tlsInvokers.Clear();
        }

        _ownedIdentity?.Dispose();
    }
}

/// <summary>A service's mTLS connection pool and the server identity it checks.</summary>
internal sealed record TlsPool(SpiffeIdPattern? ServerIdentity, HttpMessageInvoker Invoker);

/// <summary>
/// The primary handler of mesh clients. Deliberately neither a <see cref="SocketsHttpHandler"/> nor a
/// <see cref="DelegatingHandler"/>: Grpc.Net.Client looks for a SocketsHttpHandler in the chain and, when it finds one,
/// runs its own subchannel balancing and connects to the logical host itself. Disposing it (as IHttpClientFactory
/// does when it rotates handlers) leaves the shared transport alone.
/// </summary>
internal sealed class MeshTransportHandler(MeshTransport transport) : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        transport.SendAsync(request, MeshHttpHandler.CurrentEndpoint, cancellationToken);

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        SendAsync(request, cancellationToken).GetAwaiter().GetResult();

    protected override void Dispose(bool disposing)
    {
        // The transport is a singleton shared by every mesh client.
    }
}
