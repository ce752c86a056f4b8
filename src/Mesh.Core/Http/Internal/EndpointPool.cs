using System.Net;
using System.Net.Sockets;
using Mesh.Endpoints.Internal;

namespace Mesh.Http.Internal;

/// <summary>
/// The plain-http connections to one endpoint: a <see cref="SocketsHttpHandler"/> of its own whose connections all go
/// to the endpoint's address (its <see cref="SocketsHttpHandler.ConnectCallback"/> dials it, whatever host the request
/// URI names). So a request keeps its logical URI (<c>http://catalog/items</c>) on the way to the endpoint: nothing is
/// rewritten (on a new path, that was a new URI string and object per request), the endpoint receives
/// <c>Host: catalog</c> as from a sidecar mesh, and a connection is still reused only for requests to the endpoint it
/// was opened to.
/// <para>
/// Made by <see cref="MeshTransport"/> on an endpoint's first request and cached on its <see cref="EndpointState"/>;
/// disposed by the transport's sweep once no endpoint using it is in a service's set any more and it has been idle for
/// <see cref="MeshTransport.RetiredPoolLifetime"/>.
/// </para>
/// </summary>
internal sealed class EndpointPool : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<WeakReference<EndpointState>> _users = [];
    private readonly SocketsHttpHandler _handler;
    private readonly TimeProvider _time;
    private long _lastUsed;
    private volatile bool _retired;

    public EndpointPool(string host, int port, SocketsHttpHandler handler, TimeProvider time)
    {
        Key = KeyOf(host, port);
        _time = time;
        EndPoint target = IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);
        handler.ConnectCallback = (context, cancellationToken) => ConnectAsync(target, cancellationToken);
        _handler = handler;
        Invoker = new HttpMessageInvoker(handler, disposeHandler: true);
        _lastUsed = time.GetTimestamp();
    }

    /// <summary>The endpoint's address, <c>host:port</c> (see <see cref="KeyOf"/>).</summary>
    public string Key { get; }

    /// <summary>The key of the pool for an address: endpoints of different services at one address share a pool.</summary>
    public static string KeyOf(string host, int port) => $"{host}:{port}";

    /// <summary>Sends over this endpoint's connections.</summary>
    public HttpMessageInvoker Invoker { get; }

    /// <summary>Whether the sweep disposed it: an endpoint that still holds it asks the transport for a new one.</summary>
    public bool Retired => _retired;

    /// <summary>Notes a request (for the sweep's idle time).</summary>
    public void Touch() => Volatile.Write(ref _lastUsed, _time.GetTimestamp());

    /// <summary>Notes an endpoint state that sends through this pool.</summary>
    public void Attach(EndpointState endpoint)
    {
        lock (_gate)
        {
            _users.Add(new WeakReference<EndpointState>(endpoint));
        }
    }

    /// <summary>True (and the pool is retired) when no endpoint using it is in a service's set any more — each was
    /// removed or is gone with its service — and no request went through it for <paramref name="idle"/>.</summary>
    public bool TryRetire(TimeSpan idle)
    {
        if (_time.GetElapsedTime(Volatile.Read(ref _lastUsed)) < idle)
        {
            return false;
        }

        lock (_gate)
        {
            _users.RemoveAll(static user => !user.TryGetTarget(out _)); // states gone with their service
            foreach (var user in _users)
            {
                if (user.TryGetTarget(out var endpoint) && !endpoint.Removed)
                {
                    return false;
                }
            }

            _retired = true;
            return true;
        }
    }

    /// <summary>As SocketsHttpHandler connects without a callback, but always to <paramref name="target"/>.</summary>
    private static async ValueTask<Stream> ConnectAsync(EndPoint target, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _retired = true;
        Invoker.Dispose();
        _handler.Dispose();
    }
}
