using Mesh;
using Mesh.Health;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the mesh's view of its upstream services to the app's health checks.</summary>
public static class MeshHealthChecksBuilderExtensions
{
    /// <summary>Adds a health check that is Degraded when a service has ejected, unhealthy or probing endpoints, is in
    /// panic mode or serves from the last known endpoints after a discovery failure, and Unhealthy (or
    /// <paramref name="failureStatus"/>) when a service has no available endpoint.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name. Default: <c>mesh</c>.</param>
    /// <param name="failureStatus">The status when a service has no available endpoint. Default: Unhealthy.</param>
    /// <param name="tags">Tags for filtering.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddMeshHealthCheck(this IHealthChecksBuilder builder, string name = "mesh", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        MeshServiceCollectionExtensions.AddMeshCore(builder.Services);
        return builder.Add(new HealthCheckRegistration(name, sp => new MeshHealthCheck(sp.GetRequiredService<MeshMonitor>()), failureStatus, tags));
    }
}
