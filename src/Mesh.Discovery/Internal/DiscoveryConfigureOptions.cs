using Mesh.Configuration.Internal;
using Mesh.Discovery.Registration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Internal;

/// <summary>Binds <c>{mesh}:Discovery</c>: under the section the mesh was bound to (<c>AddMeshClient(section)</c>), else
/// the app's <c>Mesh</c> section.</summary>
internal sealed class DiscoveryConfigureOptions(IServiceProvider services) : IConfigureOptions<MeshDiscoveryOptions>
{
    public void Configure(MeshDiscoveryOptions options)
    {
        if (MeshConfigurationSection.Find(services) is { } mesh)
        {
            var section = mesh.GetSection("Discovery");
            DiscoveryConfigurationReader.Read(section, options, MeshConfigurationSection.RootOf(section, services.GetService<IConfiguration>()));
        }
    }
}

/// <summary>Binds <c>{mesh}:Registration</c>, like <see cref="DiscoveryConfigureOptions"/>.</summary>
internal sealed class RegistrationConfigureOptions(IServiceProvider services) : IConfigureOptions<MeshRegistrationOptions>
{
    public void Configure(MeshRegistrationOptions options)
    {
        if (MeshConfigurationSection.Find(services) is { } mesh)
        {
            var section = mesh.GetSection("Registration");
            DiscoveryConfigurationReader.Read(section, options, MeshConfigurationSection.RootOf(section, services.GetService<IConfiguration>()));
        }
    }
}
