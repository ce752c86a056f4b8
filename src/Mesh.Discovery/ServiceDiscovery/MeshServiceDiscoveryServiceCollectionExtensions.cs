using Mesh.Discovery;
using Mesh.Discovery.ServiceDiscovery.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ServiceDiscovery;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Microsoft.Extensions.ServiceDiscovery's resolver pipeline as a discovery source of the mesh.</summary>
public static class MeshServiceDiscoveryServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>ServiceDiscovery</c> discovery provider: a service with <c>Mesh:Services:{name}:Discovery:
    /// ServiceDiscovery</c> takes its endpoints from Microsoft.Extensions.ServiceDiscovery (MESD) — the endpoint providers
    /// the app registered (<c>AddServiceDiscovery()</c> adds the configuration and pass-through ones; DNS, DNS SRV and any
    /// <c>IServiceEndpointProvider</c> of your own count too) — and the mesh balances, health-checks, secures and measures
    /// the requests. The endpoints are resolved as MESD resolves <c>https+http://{name}</c> (the schemes:
    /// <c>ServiceDiscovery:Schemes</c>; the name: <c>ServiceDiscovery:Name</c>), again whenever MESD's change token fires (a configuration reload, a
    /// DNS TTL); a failed resolution keeps the last good set. Adds MESD's core services if the app has not; calling it
    /// more than once is harmless.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshServiceDiscovery(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddServiceDiscoveryCore();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMeshDiscoveryProvider, ServiceDiscoveryMeshProvider>(sp => new ServiceDiscoveryMeshProvider(
            sp.GetRequiredService<ServiceEndpointResolver>(), sp.GetService<ILoggerFactory>(), sp.GetService<TimeProvider>())));
        return services;
    }
}
