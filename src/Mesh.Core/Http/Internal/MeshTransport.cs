using System.Net;
using Mesh.Endpoints;

namespace Mesh.Http.Internal;

/// <summary>
/// The connections the mesh sends over: one shared <see cref="SocketsHttpHandler"/> for the whole process, outliving
/// the handler rotations of IHttpClientFactory (so connection pools and endpoint statistics are not reset every two
/// minutes). Connection lifetime is bounded so that endpoint and certificate changes reach pooled connections.
/// </summary>
internal sealed class MeshTransport : IDisposable
{
    private readonly SocketsHttpHandler _handler;
    private readonly HttpMessageInvoker _invoker;

    public MeshTransport(MeshOptions options)
    {
        _handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            ConnectTimeout = options.ConnectTimeout,
            EnableMultipleHttp2Connections = true,
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = int.MaxValue,
        };
        _invoker = new HttpMessageInvoker(_handler, disposeHandler: false);
    }

    /// <summary>Sends a request that was already rewritten to <paramref name="endpoint"/> (or is not a mesh request).</summary>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, EndpointState? endpoint, CancellationToken cancellationToken) =>
        _invoker.SendAsync(request, cancellationToken);

    public void Dispose()
    {
        _invoker.Dispose();
        _handler.Dispose();
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
