using Mesh.Discovery;
using Mesh.Discovery.Dns.Internal;
using Mesh.Discovery.Etcd.Internal;
using Mesh.Discovery.Internal;
using Mesh.Discovery.Registration;
using Mesh.Discovery.Registration.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the DNS and etcd discovery providers and self-registration in etcd.</summary>
public static class MeshDiscoveryServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>Dns</c> and <c>Etcd</c> discovery providers, configured from <c>Mesh:Discovery</c> (or the
    /// <c>Discovery</c> section of the section given to <c>AddMeshClient(section)</c>) and validated on start. Services pick one with <c>Mesh:Services:{name}:Discovery</c>. Use it next to
    /// <c>AddMeshClient()</c>; calling it more than once is harmless.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshDiscovery(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        AddDiscoveryOptions(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMeshDiscoveryProvider, DnsDiscoveryProvider>(sp => new DnsDiscoveryProvider(
            sp.GetRequiredService<IOptions<MeshDiscoveryOptions>>(), sp.GetService<ILoggerFactory>(), sp.GetService<TimeProvider>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMeshDiscoveryProvider, EtcdDiscoveryProvider>(sp => new EtcdDiscoveryProvider(
            sp.GetRequiredService<EtcdConnection>(), sp.GetService<ILoggerFactory>(), sp.GetService<TimeProvider>())));
        return services;
    }

    /// <summary>Registers the <c>Dns</c> and <c>Etcd</c> discovery providers, configured from <c>Mesh:Discovery</c>
    /// and then by <paramref name="configure"/>.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Changes the settings after configuration binding.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshDiscovery(this IServiceCollection services, Action<MeshDiscoveryOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddMeshDiscovery();
        services.Configure(configure);
        return services;
    }

    /// <summary>
    /// Registers this instance in the etcd registry while the host runs (a hosted service): binds
    /// <c>Mesh:Registration</c> (<c>Service</c>, <c>Address</c>, <c>Weight</c>, <c>Zone</c>, <c>Metadata</c>,
    /// <c>LeaseTtl</c>, <c>InstanceId</c>) and <c>Mesh:Discovery:Etcd</c>, validated on start. Once the host has
    /// started it writes <c>{Prefix}{service}/{instance-id}</c> under a lease kept alive every third of its TTL; on
    /// graceful shutdown it deletes the key and revokes the lease before the web server stops.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshRegistration(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        AddDiscoveryOptions(services);
        services.AddOptionsWithValidateOnStart<MeshRegistrationOptions>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<MeshRegistrationOptions>, RegistrationConfigureOptions>(
            sp => new RegistrationConfigureOptions(sp)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MeshRegistrationOptions>, RegistrationOptionsValidator>(
            sp => new RegistrationOptionsValidator(sp.GetRequiredService<IOptions<MeshDiscoveryOptions>>())));
        services.TryAddSingleton(sp => new MeshRegistrationService(
            sp.GetRequiredService<IOptions<MeshRegistrationOptions>>(), sp.GetRequiredService<EtcdConnection>(), sp.GetService<ILoggerFactory>(), sp.GetService<TimeProvider>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DeferredHostedService<MeshRegistrationService>>(
            sp => new DeferredHostedService<MeshRegistrationService>(sp)));
        return services;
    }

    /// <summary>Registers this instance in the etcd registry; see <see cref="AddMeshRegistration(IServiceCollection)"/>.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Changes the settings after configuration binding (for example the address, known only at run time).</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshRegistration(this IServiceCollection services, Action<MeshRegistrationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddMeshRegistration();
        services.Configure(configure);
        return services;
    }

    private static void AddDiscoveryOptions(IServiceCollection services)
    {
        services.AddOptionsWithValidateOnStart<MeshDiscoveryOptions>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<MeshDiscoveryOptions>, DiscoveryConfigureOptions>(
            sp => new DiscoveryConfigureOptions(sp)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MeshDiscoveryOptions>, DiscoveryOptionsValidator>(
            sp => new DiscoveryOptionsValidator(sp)));
        services.TryAddSingleton(sp => new EtcdConnection(sp.GetRequiredService<IOptions<MeshDiscoveryOptions>>().Value.Etcd));
    }
}
