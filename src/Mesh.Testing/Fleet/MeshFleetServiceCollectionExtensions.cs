using Mesh;
using Mesh.Discovery;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Points a mesh client at a <see cref="ServiceFleet"/>.</summary>
public static class MeshFleetServiceCollectionExtensions
{
    /// <summary>Adds the mesh (if not added yet) with the fleet's service, whose endpoints come from the fleet
    /// (discovery provider <c>Fleet</c>) and follow every scale, rolling update and replacement.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="fleet">The fleet.</param>
    /// <param name="configure">Balancer, health checks, outlier detection... for the fleet's service.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshFleet(this IServiceCollection services, ServiceFleet fleet, Action<MeshServiceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(fleet);
        services.AddSingleton(new FleetRegistration(fleet));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMeshDiscoveryProvider, FleetDiscoveryProvider>());
        services.AddMeshClient(options =>
        {
            var service = new MeshServiceOptions { Discovery = FleetDiscoveryProvider.ProviderName };
            configure?.Invoke(service);
            options.Services[fleet.ServiceName] = service;
        });
        return services;
    }
}
