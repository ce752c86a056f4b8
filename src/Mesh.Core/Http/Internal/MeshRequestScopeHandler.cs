using Mesh.Resilience.Internal;

namespace Mesh.Http.Internal;

/// <summary>
/// The outermost handler of a mesh client: gives each logical request its <see cref="RequestScope"/> before any
/// resilience handler runs, so that the copies a hedging handler clones from a snapshot of the request (its options
/// included) share the scope with the original, and every attempt of the request avoids the endpoints the others use.
/// </summary>
internal sealed class MeshRequestScopeHandler : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _ = RequestScope.Of(request);
        return base.SendAsync(request, cancellationToken);
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _ = RequestScope.Of(request);
        return base.Send(request, cancellationToken);
    }
}
