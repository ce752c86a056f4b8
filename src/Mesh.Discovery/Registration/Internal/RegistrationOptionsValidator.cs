using Mesh.Discovery.Internal;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Registration.Internal;

/// <summary>Validates <see cref="MeshRegistrationOptions"/> on start; messages name the key and what is allowed.</summary>
internal sealed class RegistrationOptionsValidator(IOptions<MeshDiscoveryOptions> discovery) : IValidateOptions<MeshRegistrationOptions>
{
    public ValidateOptionsResult Validate(string? name, MeshRegistrationOptions options)
    {
        const string path = MeshRegistrationOptions.SectionName;
        var errors = new List<string>(options.ConfigurationErrors);
        if (string.IsNullOrWhiteSpace(options.Service))
        {
            errors.Add($"{path}:Service: required; the logical service this instance belongs to, for example payments.");
        }
        else if (Uri.CheckHostName(options.Service.Trim()) != UriHostNameType.Dns)
        {
            errors.Add($"{path}:Service: '{options.Service}' is not a valid service name; use letters, digits, '-' and '.' (it is used as a host name).");
        }

        if (string.IsNullOrWhiteSpace(options.Address))
        {
            errors.Add($"{path}:Address: required; the address clients reach this instance at, for example http://10.0.0.5:8080.");
        }
        else if (!Uri.TryCreate(options.Address.Trim(), UriKind.Absolute, out var address))
        {
            errors.Add($"{path}:Address: '{options.Address}' is not an absolute address; expected scheme://host:port, for example http://10.0.0.5:8080.");
        }
        else if (!MeshEndpoint.TryValidateAddress(address, out var error))
        {
            errors.Add($"{path}:Address: {error}");
        }

        if (options.Weight is < 1 or > 1_000_000)
        {
            errors.Add($"{path}:Weight: {options.Weight} is out of range; allowed: 1 to 1000000.");
        }

        DiscoveryOptionsValidator.Range(errors, $"{path}:LeaseTtl", options.LeaseTtl, TimeSpan.FromSeconds(2), TimeSpan.FromHours(1));
        if (options.InstanceId is { } id && (id.Trim().Length == 0 || id.Contains('/', StringComparison.Ordinal)))
        {
            errors.Add($"{path}:InstanceId: '{id}' must be non-empty and contain no '/' (or be absent to generate one).");
        }

        if (string.IsNullOrWhiteSpace(discovery.Value.Etcd.Endpoints))
        {
            errors.Add("Mesh:Discovery:Etcd:Endpoints: required by Mesh:Registration; set it to the etcd client URLs, for example http://127.0.0.1:2379.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
