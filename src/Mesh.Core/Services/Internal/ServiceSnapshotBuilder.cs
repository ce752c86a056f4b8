using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.LoadBalancing.Internal;

namespace Mesh.Services.Internal;

/// <summary>
/// Builds a <see cref="ServiceSnapshot"/> from the endpoint states and the settings, in the order the decisions are
/// made (as YARP separates "available destinations" from the balancing policy):
/// routable endpoints → panic (Envoy's <c>healthy_panic_threshold</c>: under <c>PanicThreshold</c>% routable, use all)
/// → zone preference (local-zone endpoints while enough of them are routable; the others become the fallback for
/// retries that tried every local endpoint) → slow-start weights → traffic split
/// (one picker per metadata group, smooth weighted round robin between groups) → the balancer's picker.
/// A pure function: it reads the states and writes nothing.
/// </summary>
internal static class ServiceSnapshotBuilder
{
    public static ServiceSnapshot Build(EndpointState[] all, ServiceSettings settings, long now, string? discoveryProblem)
    {
        if (all.Length == 0)
        {
            return ServiceSnapshot.Unavailable(discoveryProblem is not null
                ? $"discovery failed before any endpoint was found ({discoveryProblem})"
                : "the service has no endpoints");
        }

        var routable = new List<EndpointState>(all.Length);
        foreach (var e in all)
        {
            if (e.IsRoutable)
            {
                routable.Add(e);
            }
        }

        var threshold = settings.PanicThreshold;
        var panic = threshold > 0 && routable.Count * 100 < threshold * all.Length;
        IReadOnlyList<EndpointState> candidates = panic ? all : routable;
        if (candidates.Count == 0)
        {
            return ServiceSnapshot.Unavailable(
                $"all {all.Length} endpoints are ejected or unhealthy and PanicThreshold is 0 (Mesh:Services:{settings.Name}:PanicThreshold)", all.Length);
        }

        EndpointState[]? elsewhere = null;
        if (!panic && settings.Zone is { } zone)
        {
            var local = candidates.Where(e => string.Equals(e.Endpoint.Zone, zone, StringComparison.OrdinalIgnoreCase)).ToList();
            var localTotal = all.Count(e => string.Equals(e.Endpoint.Zone, zone, StringComparison.OrdinalIgnoreCase));
            if (local.Count > 0 && local.Count * 100 >= Math.Max(threshold, 1) * localTotal)
            {
                elsewhere = [.. candidates.Where(e => !string.Equals(e.Endpoint.Zone, zone, StringComparison.OrdinalIgnoreCase))];
                candidates = local;
            }
        }

        var refreshAt = long.MaxValue;
        var slowStart = settings.SlowStart;
        double Weight(EndpointState e)
        {
            var factor = SlowStart.Factor(e, now, slowStart);
            if (factor < 1.0)
            {
                // Re-weigh twenty times per window while ramping, at least once a second.
                refreshAt = Math.Min(refreshAt, now + Math.Min(slowStart.WindowTicks / 20, slowStart.SecondTicks));
            }

            return e.Endpoint.Weight * factor;
        }

        EndpointPicker? picker = null;
        if (settings.Split is { } split)
        {
            var groups = new List<EndpointPicker>();
            var groupWeights = new List<long>();
            foreach (var (value, share) in split.Groups)
            {
                var members = candidates.Where(e => e.Endpoint.Metadata.TryGetValue(split.MetadataKey, out var v) && v == value).ToArray();
                if (share > 0 && members.Length > 0)
                {
                    groups.Add(EndpointPickerFactory.Create(settings.LoadBalancer, members, [.. members.Select(Weight)], settings.Picker));
                    groupWeights.Add(share);
                }
            }

            if (groups.Count > 0)
            {
                picker = new TrafficSplitPicker([.. candidates], [.. groups], [.. groupWeights]);
            }
        }

        if (picker is null)
        {
            var array = candidates.ToArray();
            picker = EndpointPickerFactory.Create(settings.LoadBalancer, array, [.. array.Select(Weight)], settings.Picker);
        }

        // Retries that tried every local endpoint go on in the other zones (weighted and balanced there too).
        var fallback = elsewhere is { Length: > 0 }
            ? EndpointPickerFactory.Create(settings.LoadBalancer, elsewhere, [.. elsewhere.Select(Weight)], settings.Picker)
            : null;
        return new ServiceSnapshot(picker, panic, routable.Count, all.Length, refreshAt, fallback);
    }
}
