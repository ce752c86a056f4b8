using Mesh.Discovery.Registration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Internal;

/// <summary>Binds <c>Mesh:Discovery</c> from the app's configuration, when there is one.</summary>
internal sealed class DiscoveryConfigureOptions(IConfiguration? configuration) : IConfigureOptions<MeshDiscoveryOptions>
{
    public void Configure(MeshDiscoveryOptions options)
    {
        if (configuration is not null)
        {
            DiscoveryConfigurationReader.Read(configuration.GetSection(MeshDiscoveryOptions.SectionName), options);
        }
    }
}

/// <summary>Binds <c>Mesh:Registration</c> from the app's configuration, when there is one.</summary>
internal sealed class RegistrationConfigureOptions(IConfiguration? configuration) : IConfigureOptions<MeshRegistrationOptions>
{
    public void Configure(MeshRegistrationOptions options)
    {
        if (configuration is not null)
        {
            DiscoveryConfigurationReader.Read(configuration.GetSection(MeshRegistrationOptions.SectionName), options);
        }
    }
}
