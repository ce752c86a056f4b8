using Mesh;
using Mesh.Configuration.Internal;
using Mesh.Discovery;
using Mesh.Http.Internal;
using Mesh.LoadBalancing.Internal;
using Mesh.Services.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the in-process mesh.</summary>
public static class MeshServiceCollectionExtensions
{
    private static readonly object s_defaultSection = new();

    /// <summary>
    /// Adds the mesh, bound to the <c>Mesh</c> section of the app's <see cref="IConfiguration"/> (and to
    /// Microsoft.Extensions.ServiceDiscovery's <c>Services</c> section). The options are validated when the host starts
    /// (every problem at once, each naming its key). Configuration reloads apply to new requests; a reload that does not
    /// validate is refused with an Error log and the last good configuration stays in effect. Calling it more than once
    /// is harmless.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshClient(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        AddMeshCore(services);
        if (!TryMark(services, s_defaultSection))
        {
            return services;
        }

        services.TryAddSingleton(sp => new MeshConfigurationLocation(sp.GetService<IConfiguration>()?.GetSection(MeshOptions.SectionName)));
        services.TryAddKeyedSingleton<IConfiguration>(MeshConfigurationSection.ServiceKey, static (sp, _) =>
            (sp.GetService<IConfiguration>() ?? new ConfigurationBuilder().Build()).GetSection(MeshOptions.SectionName));
        services.AddSingleton<IConfigureOptions<MeshOptions>>(sp =>
        {
            var root = sp.GetService<IConfiguration>();
            return new MeshConfigureOptions(root?.GetSection(MeshOptions.SectionName), root);
        });
        services.AddSingleton<IOptionsChangeTokenSource<MeshOptions>>(sp =>
            new ConfigurationChangeTokenSource<MeshOptions>(sp.GetService<IConfiguration>() ?? new ConfigurationBuilder().Build()));
        return services;
    }

    /// <summary>Adds the mesh, bound to the given configuration section (shaped like the <c>Mesh</c> section): messages
    /// name its keys, and Mesh.Discovery reads its <c>Discovery</c> and <c>Registration</c> sections. Validated on start and
    /// on reload like <see cref="AddMeshClient(IServiceCollection)"/>. Calling it more than once with the same section is harmless.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The section to bind, for example <c>builder.Configuration.GetSection("Mesh")</c>.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshClient(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        AddMeshCore(services);
        if (!TryMark(services, section))
        {
            return services;
        }

        services.TryAddSingleton(new MeshConfigurationLocation(section));
        services.TryAddKeyedSingleton(MeshConfigurationSection.ServiceKey, section);
        services.AddSingleton<IConfigureOptions<MeshOptions>>(sp => new MeshConfigureOptions(section, sp.GetService<IConfiguration>()));
        services.AddSingleton<IOptionsChangeTokenSource<MeshOptions>>(new ConfigurationChangeTokenSource<MeshOptions>(section));
        return services;
    }

    /// <summary>Adds the mesh, configured in code. Configuration bindings and code-first actions apply in the order
    /// they were registered: call <c>AddMeshClient()</c> first for code to override configuration.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets up services, endpoints and policies.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshClient(this IServiceCollection services, Action<MeshOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        AddMeshCore(services);
        TryMark(services, configure);
        services.Configure(configure);
        return services;
    }

    /// <summary>Registers a discovery provider, selectable per service with <c>Mesh:Services:{name}:Discovery</c>.</summary>
    /// <typeparam name="TProvider">The provider type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshDiscoveryProvider<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicConstructors)] TProvider>(this IServiceCollection services)
        where TProvider : class, IMeshDiscoveryProvider
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMeshDiscoveryProvider, TProvider>());
        return services;
    }

    /// <summary>
    /// Registers a load balancer, selectable per service by its <see cref="MeshLoadBalancer.Name"/>
    /// (<c>Mesh:Services:{name}:LoadBalancer</c>). Registering the same type twice is harmless; two types with the same
    /// name (or a built-in name) fail validation on start.
    /// </summary>
    /// <typeparam name="TBalancer">The balancer type (a singleton, created by the container).</typeparam>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshLoadBalancer<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicConstructors)] TBalancer>(this IServiceCollection services)
        where TBalancer : MeshLoadBalancer
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MeshLoadBalancer, TBalancer>());
        return services;
    }

    /// <summary>Registers a load balancer instance, selectable per service by its <see cref="MeshLoadBalancer.Name"/>
    /// (<c>Mesh:Services:{name}:LoadBalancer</c>). Registering the same instance twice is harmless.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="balancer">The balancer.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMeshLoadBalancer(this IServiceCollection services, MeshLoadBalancer balancer)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(balancer);
        if (!services.Any(d => d.ServiceType == typeof(MeshLoadBalancer) && !d.IsKeyedService && ReferenceEquals(d.ImplementationInstance, balancer)))
        {
            services.AddSingleton(balancer);
        }

        return services;
    }

    private static bool TryMark(IServiceCollection services, object source)
    {
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(MeshConfigurationMarker) && descriptor.ImplementationInstance is MeshConfigurationMarker marker && ReferenceEquals(marker.Source, source))
            {
                return false;
            }
        }

        services.AddSingleton(new MeshConfigurationMarker(source));
        return true;
    }

    internal static void AddMeshCore(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(MeshRegistry)))
        {
            return;
        }

        services.AddOptions();
        services.AddHttpClient();

        // The built-in balancers are registered like custom ones (AddMeshLoadBalancer), under the names of LoadBalancerKind.
        services.AddMeshLoadBalancer<PeakEwmaLoadBalancer>();
        services.AddMeshLoadBalancer<RoundRobinLoadBalancer>();
        services.AddMeshLoadBalancer<WeightedRoundRobinLoadBalancer>();
        services.AddMeshLoadBalancer<RandomLoadBalancer>();
        services.AddMeshLoadBalancer<LeastRequestLoadBalancer>();
        services.AddMeshLoadBalancer<ConsistentHashLoadBalancer>();

        // One validation style for every package: limits from the options' attributes (generated validators) and rules
        // across fields by hand, validated on start; reloads that do not validate are refused and the last good stays.
        services.AddOptionsWithValidateOnStart<MeshOptions>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MeshOptions>, MeshOptionsValidation>());
        services.TryAddSingleton<IOptionsMonitor<MeshOptions>>(static sp => new LastGoodOptionsMonitor<MeshOptions>(
            sp.GetRequiredService<IOptionsFactory<MeshOptions>>(),
            sp.GetServices<IOptionsChangeTokenSource<MeshOptions>>(),
            () => sp.GetService<ILoggerFactory>(),
            static (last, next) => last.SectionFound && !next.SectionFound
                ? $"the '{next.SectionPath}' section is no longer in the configuration, which is what a configuration file that no longer parses looks like (its provider drops all its keys). Fix the file; to stop routing to a service, remove that service's section."
                : null));
        services.TryAddSingleton(sp => new MeshTransport(
            sp.GetRequiredService<IOptionsMonitor<MeshOptions>>().CurrentValue,
            sp.GetService<Mesh.Identity.IMeshIdentitySource>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            sp.GetService<TimeProvider>()));
        services.TryAddSingleton(sp => new MeshRegistry(
            sp.GetRequiredService<IOptionsMonitor<MeshOptions>>(),
            sp.GetServices<IMeshDiscoveryProvider>(),
            sp.GetRequiredService<MeshTransport>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            sp.GetService<TimeProvider>(),
            sp.GetService<MeshConfigurationLocation>(),
            sp.GetService<System.Diagnostics.Metrics.IMeterFactory>(),
            sp.GetServices<MeshLoadBalancer>()));
        services.TryAddSingleton(sp => new MeshMonitor(sp.GetRequiredService<MeshRegistry>()));
        services.TryAddSingleton(sp => new MeshHandlerFactory(sp.GetRequiredService<MeshRegistry>(), sp.GetRequiredService<MeshTransport>()));
        services.AddOptionsWithValidateOnStart<MeshHandlerRegistrations>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MeshHandlerRegistrations>, MeshHandlerRegistrationsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MeshStartup>());
    }
}
