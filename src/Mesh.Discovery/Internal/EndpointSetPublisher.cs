namespace Mesh.Discovery.Internal;

/// <summary>
/// Publishes a provider's endpoint set only when it changed (so that an unchanged refresh does not rebuild the
/// service's picker), and always after a reported failure (so that the mesh clears the problem).
/// </summary>
internal sealed class EndpointSetPublisher(MeshDiscoveryContext context)
{
    private IReadOnlyList<MeshEndpoint>? _last;
    private bool _failing;

    public IReadOnlyList<MeshEndpoint>? Last => _last;

    public bool Publish(IReadOnlyList<MeshEndpoint> endpoints)
    {
        if (!_failing && _last is not null && Same(_last, endpoints))
        {
            return false;
        }

        context.Publish(endpoints);
        _last = endpoints;
        _failing = false;
        return true;
    }

    public void ReportFailure(Exception error)
    {
        _failing = true;
        context.ReportFailure(error);
    }

    private static bool Same(IReadOnlyList<MeshEndpoint> a, IReadOnlyList<MeshEndpoint> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (!a[i].Equals(b[i]))
            {
                return false;
            }
        }

        return true;
    }
}
