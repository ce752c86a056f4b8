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
/// (one picker per metadata group, smooth weighted round robin between groups) → the balancer's picker (built-in or
/// registered with <c>AddMeshLoadBalancer</c>; a custom balancer that throws is replaced by round robin for this snapshot).
/// A pure function: it reads the states and writes nothing.
/// </summary>
internal static class ServiceSnapshotBuilder
{
    /// <summary>Builds the snapshot of <paramref name="all"/>; when the set has endpoints of both schemes, also the
    /// snapshots of each scheme's endpoints alone, for requests whose logical URI prefers a scheme
    /// (<see cref="SchemePreference"/>).</summary>
    public static ServiceSnapshot Build(EndpointState[] all, ServiceSettings settings, long now, string? discoveryProblem)
    {
        var https = 0;
        foreach (var e in all)
        {
            https += e.Scheme == Uri.UriSchemeHttps ? 1 : 0;
        }

        var main = BuildCore(all, settings, now, discoveryProblem);
        if (https == 0 || https == all.Length)
        {
            return main.WithSchemes(hasHttp: https < all.Length, hasHttps: https > 0, null, null);
        }

        return main.WithSchemes(true, true,
            BuildCore([.. all.Where(e => e.Scheme != Uri.UriSchemeHttps)], settings, now, discoveryProblem),
            BuildCore([.. all.Where(e => e.Scheme == Uri.UriSchemeHttps)], settings, now, discoveryProblem));
    }

    private static ServiceSnapshot BuildCore(EndpointState[] all, ServiceSettings settings, long now, string? discoveryProblem)
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

        Exception? balancerFailure = null;
        EndpointPicker CreatePicker(EndpointState[] members)
        {
            var weights = members.Select(Weight).ToArray();
            try
            {
                return settings.Balancer.CreateEndpointPicker(members, weights, settings.BalancerInputs);
            }
            catch (Exception ex) when (settings.Balancer is not BuiltInLoadBalancer)
            {
                // A custom balancer's bug must not stop health decisions (this runs under the service lock, after an
                // ejection too): the same candidates are served round robin, and the runtime logs the failure.
                balancerFailure ??= ex;
                return EndpointPickerFactory.Create(LoadBalancerKind.RoundRobin, members, weights, settings.Picker);
            }
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
                    groups.Add(CreatePicker(members));
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
            picker = CreatePicker([.. candidates]);
        }

        // Retries that tried every local endpoint go on in the other zones (weighted and balanced there too).
        var fallback = elsewhere is { Length: > 0 } ? CreatePicker(elsewhere) : null;
        return new ServiceSnapshot(picker, panic, routable.Count, all.Length, refreshAt, fallback) { BalancerFailure = balancerFailure };
    }
}
