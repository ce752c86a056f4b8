using System.Globalization;
using Mesh.Discovery.Internal;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Registration.Internal;

/// <summary>Validates <see cref="MeshRegistrationOptions"/> on start: the limits from their attributes (generated
/// <see cref="DiscoveryOptionsRanges"/>) and the rest by hand; messages name the key of the bound section and what is allowed.</summary>
internal sealed class RegistrationOptionsValidator(IOptions<MeshDiscoveryOptions> discovery) : IValidateOptions<MeshRegistrationOptions>
{
    public ValidateOptionsResult Validate(string? name, MeshRegistrationOptions options)
    {
        var path = options.SectionPath;
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

        DiscoveryOptionsRanges.AddTo(errors, DiscoveryOptionsRanges.Instance.Validate(path, options));
        if (options.InstanceId is { } id && (id.Trim().Length == 0 || id.Contains('/', StringComparison.Ordinal)))
        {
            errors.Add($"{path}:InstanceId: '{id}' must be non-empty and contain no '/' (or be absent to generate one).");
        }

        MeshDiscoveryOptions etcd;
        try
        {
            etcd = discovery.Value;
        }
        catch (OptionsValidationException)
        {
            return Result(errors); // the discovery options report their own problems
        }

        if (string.IsNullOrWhiteSpace(etcd.Etcd.Endpoints))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{etcd.SectionPath}:Etcd:Endpoints: required by {path}; set it to the etcd client URLs, for example http://127.0.0.1:2379."));
        }

        return Result(errors);
    }

    private static ValidateOptionsResult Result(List<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
}
