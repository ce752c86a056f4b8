using Mesh.Resilience.Internal;

namespace Mesh.Http.Internal;

/// <summary>
/// The outermost handler of a mesh client: gives each logical request its <see cref="RequestScope"/> before any
/// resilience handler runs, so that the copies a hedging handler clones from a snapshot of the request (its options
/// included) share the scope with the original, and every attempt of the request avoids the endpoints the others use.
/// </summary>
/// <param name="hedging">Whether the client hedges, shared by the client's scopes.</param>
internal sealed class MeshRequestScopeHandler(ClientHedgingFlag hedging) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        RequestScope.Of(request).Client ??= hedging;
        return base.SendAsync(request, cancellationToken);
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        RequestScope.Of(request).Client ??= hedging;
        return base.Send(request, cancellationToken);
    }
}
