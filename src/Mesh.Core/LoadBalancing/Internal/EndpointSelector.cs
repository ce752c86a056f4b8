using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>
/// Chooses the endpoint for one attempt from a snapshot's picker, with the per-request rules on top of the balancer:
/// an attempt avoids the endpoints earlier attempts of the same request used (<see cref="TriedEndpoints"/>), and an
/// endpoint on probation (after an ejection) takes a single probe request at a time. Lock-free; allocates nothing.
/// </summary>
internal static class EndpointSelector
{
    /// <summary>Draws this many times from the picker before scanning its endpoints in order.</summary>
    private const int Draws = 6;

    public static EndpointState Select(EndpointPicker picker, in PickContext context, TriedEndpoints? tried, out bool isProbe)
    {
        for (var attempt = 0; attempt < Draws; attempt++)
        {
            var endpoint = picker.Pick(attempt == 0 ? context : context.WithAttempt(attempt));
            if (Acceptable(endpoint, tried, out isProbe))
            {
                return endpoint;
            }
        }

        foreach (var endpoint in picker.Endpoints)
        {
            if (Acceptable(endpoint, tried, out isProbe))
            {
                return endpoint;
            }
        }

        // Everything was tried already (or is a busy probe): reuse rather than fail, still balanced.
        isProbe = false;
        for (var attempt = 0; attempt < Draws; attempt++)
        {
            var endpoint = picker.Pick(context.WithAttempt(attempt + Draws));
            if (endpoint.Status != EndpointStatus.Probing)
            {
                return endpoint;
            }
        }

        return picker.Pick(context);
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
