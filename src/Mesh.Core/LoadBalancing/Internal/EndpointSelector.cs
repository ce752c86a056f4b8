using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>
/// Chooses the endpoint for one attempt from a snapshot's picker, with the per-request rules on top of the balancer:
/// an attempt avoids the endpoints earlier attempts of the same request used (<see cref="TriedEndpoints"/>) — across
/// groups: when the preferred group (the local zone) is exhausted it goes on with the fallback picker, and a traffic
/// split's picker lists every group's endpoints, so its scan reaches the other groups — and an endpoint on probation
/// (after an ejection) takes a single probe request at a time. Lock-free; allocates nothing.
/// </summary>
internal static class EndpointSelector
{
    /// <summary>Draws this many times from the picker before scanning its endpoints in order.</summary>
    private const int Draws = 6;

    /// <summary>Chooses from <paramref name="picker"/> (the preferred group, for example the local zone), then from
    /// <paramref name="fallback"/> (the other candidates) when every endpoint of the preferred group was tried by this
    /// request, and reuses a tried endpoint only when both are exhausted.</summary>
    public static EndpointState Select(EndpointPicker picker, EndpointPicker? fallback, in PickContext context, TriedEndpoints? tried, out bool isProbe)
    {
        if (TrySelect(picker, context, tried, out var endpoint, out isProbe) ||
            (fallback is not null && TrySelect(fallback, context, tried, out endpoint, out isProbe)))
        {
            return endpoint;
        }

        // Everything was tried already (or is a busy probe): reuse rather than fail, still balanced.
        isProbe = false;
        for (var attempt = 0; attempt < Draws; attempt++)
        {
            endpoint = picker.Pick(context.WithAttempt(attempt + Draws));
            if (endpoint.Status != EndpointStatus.Probing)
            {
                return endpoint;
            }
        }

        return picker.Pick(context);
    }

    /// <summary>Chooses from one picker.</summary>
    public static EndpointState Select(EndpointPicker picker, in PickContext context, TriedEndpoints? tried, out bool isProbe) =>
        Select(picker, null, context, tried, out isProbe);

    private static bool TrySelect(EndpointPicker picker, in PickContext context, TriedEndpoints? tried, out EndpointState endpoint, out bool isProbe)
    {
        for (var attempt = 0; attempt < Draws; attempt++)
        {
            endpoint = picker.Pick(attempt == 0 ? context : context.WithAttempt(attempt));
            if (Acceptable(endpoint, tried, out isProbe))
            {
                return true;
            }
        }

        foreach (var candidate in picker.Endpoints)
        {
            if (Acceptable(candidate, tried, out isProbe))
            {
                endpoint = candidate;
                return true;
            }
        }

        endpoint = null!;
        isProbe = false;
        return false;
    }

    private static bool Acceptable(EndpointState endpoint, TriedEndpoints? tried, out bool isProbe)
    {
        isProbe = false;
        if (tried is not null && tried.Contains(endpoint))
        {
            return false;
        }

        if (endpoint.Status == EndpointStatus.Probing)
        {
            isProbe = endpoint.TryTakeProbe();
            return isProbe;
        }

        return true;
    }
}
