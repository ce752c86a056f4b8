using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Mesh.Health;

/// <summary>
/// Reports the mesh's view of its upstream services to the app's own health endpoint: Healthy when every endpoint of
/// every service routes normally; Degraded when some endpoint is ejected, unhealthy or probing, a service is in panic
/// mode, or a discovery source fails and the last known endpoints are in use; Unhealthy when some service has no
/// available endpoint at all. The data lists each service's endpoints with their state and reason.
/// </summary>
internal sealed class MeshHealthCheck(MeshMonitor monitor) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var degraded = new List<string>();
        var down = new List<string>();
        foreach (var service in monitor.GetSnapshot())
        {
            var available = service.AvailableCount;
            data[service.Name] = string.Join("; ", service.Endpoints.Select(e =>
                $"{e.Endpoint.Key} {e.Health}{(e.Reason is null ? "" : " (" + e.Reason + ")")}"));
            if (service.Endpoints.Count == 0 || available == 0)
            {
                down.Add($"{service.Name}: no available endpoint of {service.Endpoints.Count}");
            }
            else if (service.Endpoints.Any(e => e.Health is not (MeshEndpointHealth.Healthy or MeshEndpointHealth.SlowStart)) || service.PanicMode || service.DiscoveryProblem is not null)
            {
                degraded.Add($"{service.Name}: {available} of {service.Endpoints.Count} endpoints available" +
                    (service.PanicMode ? ", panic mode" : "") +
                    (service.DiscoveryProblem is null ? "" : ", discovery failing: " + service.DiscoveryProblem));
            }
        }

        var result = down.Count > 0
            ? new HealthCheckResult(context.Registration.FailureStatus, string.Join(" | ", down.Concat(degraded)), data: data)
            : degraded.Count > 0
                ? HealthCheckResult.Degraded(string.Join(" | ", degraded), data: data)
                : HealthCheckResult.Healthy("every mesh endpoint routes normally", data);
        return Task.FromResult(result);
    }
}
