using Mesh.Configuration.Internal;
using Microsoft.Extensions.Options;

namespace Mesh.Containers.Internal;

/// <summary>
/// Validates on start the per-service Docker keys (<c>{mesh}:Services:{name}:Docker:*</c>) of every service of the
/// mesh's configuration section whose <c>Discovery</c> names <c>Docker</c>, in the dialect of every Mesh package: every
/// problem at once, each naming the full key of the section that was bound.
/// </summary>
internal sealed class DockerServicesValidator(IServiceProvider services) : IValidateOptions<DockerDiscoveryOptions>
{
    public ValidateOptionsResult Validate(string? name, DockerDiscoveryOptions options)
    {
        var errors = new List<string>();
        foreach (var service in MeshConfigurationSection.Find(services)?.GetSection("Services").GetChildren() ?? [])
        {
            var discovery = new ConfigurationReader([]).JoinedList(service, "Discovery") ?? "";
            if (discovery.Split(ConfigurationReader.ListSeparators, StringSplitOptions.TrimEntries).Contains("Docker", StringComparer.OrdinalIgnoreCase) &&
                !DockerServiceWatch.Settings.TryRead(options, service, out _, out var problems))
            {
                errors.AddRange(problems);
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
