using Mesh.Http.Internal;
using Mesh.Services.Internal;

namespace Mesh;

/// <summary>
/// Creates mesh message handlers for code that does not use IHttpClientFactory — for example a YARP
/// <c>IForwarderHttpClientFactory</c>, so that a gateway's destinations are resolved, balanced, health-checked and
/// secured by the mesh. Registered as a singleton by <c>AddMeshClient</c>.
/// </summary>
public sealed class MeshHandlerFactory
{
    private readonly MeshRegistry _registry;
    private readonly MeshTransport _transport;

    internal MeshHandlerFactory(MeshRegistry registry, MeshTransport transport)
    {
        _registry = registry;
        _transport = transport;
    }

    /// <summary>Creates a handler that routes each request by its host (the service name) over the mesh's shared
    /// connection pool. Disposing it does not close the pool.</summary>
    /// <param name="serviceName">Route every request to this service instead of the request's host.</param>
    /// <returns>A handler to wrap in an <see cref="HttpMessageInvoker"/> or <see cref="HttpClient"/>.</returns>
    public HttpMessageHandler CreateHandler(string? serviceName = null) =>
        new MeshHttpHandler(_registry, string.IsNullOrWhiteSpace(serviceName) ? null : serviceName.Trim().ToLowerInvariant())
        {
            InnerHandler = new MeshTransportHandler(_transport),
        };
}
