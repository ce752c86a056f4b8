using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Identity;

/// <summary>Registers the workload's identity (<see cref="IMeshIdentitySource"/>) in a service collection.</summary>
public static class MeshIdentityServiceCollectionExtensions
{
    /// <summary>Registers a <see cref="MeshFileIdentitySource"/> reading the files named by the <c>Mesh:Identity</c> section
    /// (or any section shaped like it). The options are validated when the host starts; the messages name every missing or
    /// invalid key under the given section.</summary>
    /// <param name="services">The services.</param>
    /// <param name="identitySection">The <c>Mesh:Identity</c> configuration section.</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddMeshIdentity(this IServiceCollection services, IConfiguration identitySection)
    {
        ArgumentNullException.ThrowIfNull(identitySection);
        return services.AddMeshIdentity(options => options.ReadFrom(identitySection));
    }

    /// <summary>Registers a <see cref="MeshFileIdentitySource"/> configured in code, validated when the host starts.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the file paths.</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddMeshIdentity(this IServiceCollection services, Action<MeshIdentityOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptionsWithValidateOnStart<MeshIdentityOptions>().Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MeshIdentityOptions>, MeshIdentityOptionsValidator>());
        services.TryAddSingleton<IMeshIdentitySource>(static sp => new MeshFileIdentitySource(
            sp.GetRequiredService<IOptions<MeshIdentityOptions>>().Value,
            sp.GetService<ILogger<MeshFileIdentitySource>>(),
            sp.GetService<TimeProvider>()));
        return services;
    }

    /// <summary>Registers an identity source built in code (for example a <see cref="MeshInMemoryIdentitySource"/>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="source">The source.</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddMeshIdentity(this IServiceCollection services, IMeshIdentitySource source)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(source);
        services.TryAddSingleton(source);
        return services;
    }

    /// <summary>Every problem at once: values that did not read, missing paths (hand-written), limits (generated from the attributes).</summary>
    private sealed class MeshIdentityOptionsValidator : IValidateOptions<MeshIdentityOptions>
    {
        public ValidateOptionsResult Validate(string? name, MeshIdentityOptions options) =>
            options.Validate() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
