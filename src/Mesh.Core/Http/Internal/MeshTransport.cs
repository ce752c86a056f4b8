using System.Net;
using Mesh.Endpoints;
using Mesh.Identity;
using Microsoft.Extensions.Logging;

namespace Mesh.Http.Internal;

/// <summary>
/// The connections the mesh sends over, shared by the whole process and outliving the handler rotations of
/// IHttpClientFactory (so connection pools and endpoint statistics are not reset every two minutes):
/// one <see cref="SocketsHttpHandler"/> for plain HTTP, and — when the workload has an identity — one per service for
/// <c>https</c> endpoints, configured by <see cref="MeshTlsClient"/> to present the current SVID and to accept only
/// servers proving the service's <c>ServerIdentity</c>. Connection lifetime is bounded so that endpoint and
/// certificate changes reach pooled connections.
/// </summary>
internal sealed class MeshTransport : IDisposable
{
    private readonly Lock _gate = new();
    private readonly SocketsHttpHandler _handler;
    private readonly HttpMessageInvoker _invoker;
    private readonly TimeSpan _connectTimeout;
    private readonly IMeshIdentitySource? _identity;
    private readonly IDisposable? _ownedIdentity;
    private readonly ILogger? _logger;
    private readonly TimeProvider? _time;
    private readonly List<HttpMessageInvoker> _tlsInvokers = [];

    public MeshTransport(MeshOptions options, IMeshIdentitySource? identity = null, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _connectTimeout = options.ConnectTimeout; // validated with the options (MeshOptions.ConnectTimeout's range)
        _handler = NewHandler();
        _invoker = new HttpMessageInvoker(_handler, disposeHandler: false);
        _logger = loggerFactory?.CreateLogger("Mesh.Identity.Client");
        _time = timeProvider;
        _identity = identity;
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

    /// <summary>Sends a request that was already rewritten to <paramref name="endpoint"/> (or is not a mesh request).</summary>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, EndpointState? endpoint, CancellationToken cancellationToken)
    {
        if (endpoint is { Service: { } service })
        {
            if (endpoint.Scheme == Uri.UriSchemeHttps)
            {
                if (_identity is not null)
                {
                    return (Volatile.Read(ref service.TlsInvoker) ?? CreateTlsInvoker(service)).SendAsync(request, cancellationToken);
                }
            }
            else if (service.RequiresMutualTls)
            {
                // Plain-http endpoints never join such a service's set; this guards the window of a reconfiguration.
                return Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.SecureConnectionError,
                    $"Mesh service '{service.Name}' requires mutual TLS; the request was not sent to the plain-http endpoint {endpoint.Key}."));
            }
        }

        return _invoker.SendAsync(request, cancellationToken);
    }

    private HttpMessageInvoker CreateTlsInvoker(Mesh.Internal.ServiceRuntime service)
    {
        lock (_gate)
        {
            if (Volatile.Read(ref service.TlsInvoker) is { } existing)
            {
                return existing;
            }

            var expected = service.ServerIdentity ?? SpiffeIdPattern.AnyInTrustDomain(_identity!.Current.Id.TrustDomain);
            var handler = MeshTlsClient.Configure(NewHandler(), _identity!, expected, _logger, _time);
            var invoker = new HttpMessageInvoker(handler, disposeHandler: true);
            _tlsInvokers.Add(invoker);
            Volatile.Write(ref service.TlsInvoker, invoker);
            return invoker;
        }
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
        _invoker.Dispose();
        _handler.Dispose();
        lock (_gate)
        {
            foreach (var invoker in _tlsInvokers)
            {
                invoker.Dispose();
            }

            _tlsInvokers.Clear();
        }

        _ownedIdentity?.Dispose();
    }
}

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
