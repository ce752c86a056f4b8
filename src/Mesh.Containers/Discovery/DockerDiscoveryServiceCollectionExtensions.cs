using Mesh.Containers;
using Mesh.Discovery;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Docker discovery source.</summary>
public static class DockerDiscoveryServiceCollectionExtensions
{
    /// <summary>Adds <see cref="DockerDiscoveryProvider"/> as the <c>Docker</c> discovery provider: services whose
    /// <c>Mesh:Services:{name}:Discovery</c> is <c>Docker</c> get the running containers labelled <c>mesh.service={name}</c> as endpoints.
    /// Their <c>Mesh:Services:{name}:Docker</c> keys are validated on start. Safe to call more than once.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Adjusts the options.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshDockerDiscovery(this IServiceCollection services, Action<DockerDiscoveryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<DockerDiscoveryOptions>()
            .Validate(o => !string.IsNullOrWhiteSpace(o.ServiceLabel), "Mesh Docker discovery: ServiceLabel must not be empty (default 'mesh.service').")
            .Validate(o => o.Scheme is "http" or "https", "Mesh Docker discovery: Scheme must be 'http' or 'https'.")
            .Validate(o => o.ReconnectDelay > TimeSpan.Zero && o.MaxReconnectDelay >= o.ReconnectDelay, "Mesh Docker discovery: ReconnectDelay must be positive and at most MaxReconnectDelay.")
            .ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DockerDiscoveryOptions>, Mesh.Containers.Internal.DockerServicesValidator>(
            sp => new Mesh.Containers.Internal.DockerServicesValidator(sp)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMeshDiscoveryProvider, DockerDiscoveryProvider>());
        return services;
    }
}
