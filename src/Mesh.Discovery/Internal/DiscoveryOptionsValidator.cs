using System.Globalization;
using System.Net;
using Mesh.Discovery.Dns.Internal;
using Mesh.Discovery.Etcd.Internal;
using Microsoft.Extensions.Configuration;
using Mesh.Configuration.Internal;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Internal;

/// <summary>
/// Validates <see cref="MeshDiscoveryOptions"/> on start: the limits the options declare with
/// <see cref="AllowedRangeAttribute"/> (checked by the generated <see cref="DiscoveryOptionsRanges"/>), and here, by hand,
/// the rules across fields and the per-service DNS keys of every service of the mesh's section that uses <c>Dns</c>.
/// Every message names the full key of the section that was bound, the value found and what is allowed.
/// </summary>
internal sealed class DiscoveryOptionsValidator(IServiceProvider services) : IValidateOptions<MeshDiscoveryOptions>
{
    public ValidateOptionsResult Validate(string? name, MeshDiscoveryOptions options)
    {
        var errors = Validate(options, MeshConfigurationSection.Find(services)?.GetSection("Services"));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static List<string> Validate(MeshDiscoveryOptions options, IConfigurationSection? meshServices)
    {
        var errors = new List<string>(options.ConfigurationErrors);
        var dns = $"{options.SectionPath}:Dns";
        if (!DnsServerParser.TryParse(options.Dns.Server, out _, out var serverError))
        {
            errors.Add($"{dns}:Server: {serverError}");
        }

        DiscoveryOptionsRanges.AddTo(errors, DiscoveryOptionsRanges.Instance.Validate(dns, options.Dns));
        if (options.Dns.MaxRefreshInterval < options.Dns.MinRefreshInterval)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{dns}:MaxRefreshInterval: {options.Dns.MaxRefreshInterval:c} must be at least MinRefreshInterval ({options.Dns.MinRefreshInterval:c})."));
        }

        if (options.Dns.RetryMaxDelay < options.Dns.RetryBaseDelay)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{dns}:RetryMaxDelay: {options.Dns.RetryMaxDelay:c} must be at least RetryBaseDelay ({options.Dns.RetryBaseDelay:c})."));
        }

        var etcd = $"{options.SectionPath}:Etcd";
        if (!EtcdEndpointList.TryParse(options.Etcd.Endpoints, out _, out var endpointsError))
        {
            errors.Add($"{etcd}:Endpoints: {endpointsError}");
        }

        if (string.IsNullOrWhiteSpace(options.Etcd.Prefix) || !options.Etcd.Prefix.EndsWith('/'))
        {
            errors.Add($"{etcd}:Prefix: '{options.Etcd.Prefix}' must be non-empty and end with '/', for example {Etcd.EtcdDiscoveryOptions.DefaultPrefix}.");
        }

        DiscoveryOptionsRanges.AddTo(errors, DiscoveryOptionsRanges.Instance.Validate(etcd, options.Etcd));
        if (options.Etcd.RetryMaxDelay < options.Etcd.RetryBaseDelay)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{etcd}:RetryMaxDelay: {options.Etcd.RetryMaxDelay:c} must be at least RetryBaseDelay ({options.Etcd.RetryBaseDelay:c})."));
        }

        foreach (var service in meshServices?.GetChildren() ?? [])
        {
            if (DiscoveryConfigurationReader.UsesProvider(service, DnsDiscoveryProvider.ProviderName) &&
                !DnsServiceSettings.TryRead(service, out _, out var dnsErrors))
            {
                errors.AddRange(dnsErrors);
            }

            if (DiscoveryConfigurationReader.UsesProvider(service, EtcdDiscoveryProvider.ProviderName) && string.IsNullOrWhiteSpace(options.Etcd.Endpoints))
            {
                errors.Add($"{etcd}:Endpoints: required, because {service.Path}:Discovery names Etcd; set it to the etcd client URLs, for example http://127.0.0.1:2379.");
            }
        }

        return errors;
    }
}

/// <summary>The limits of the discovery options, checked by code the options validation source generator writes from
/// their <see cref="AllowedRangeAttribute"/>s; called with the configuration path of each object as the name.</summary>
[OptionsValidator]
internal sealed partial class DiscoveryOptionsRanges :
    IValidateOptions<Dns.DnsDiscoveryOptions>,
    IValidateOptions<Etcd.EtcdDiscoveryOptions>,
    IValidateOptions<Registration.MeshRegistrationOptions>
{
    public static readonly DiscoveryOptionsRanges Instance = new();

    public static void AddTo(List<string> errors, ValidateOptionsResult result)
    {
        if (result.Failed && result.Failures is { } failures)
        {
            errors.AddRange(failures);
        }
    }
}

/// <summary>Parses <c>Mesh:Discovery:Dns:Server</c>.</summary>
internal static class DnsServerParser
{
    public static bool TryParse(string? value, out List<(string Host, int Port)> servers, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        servers = [];
        error = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            return true;
        }

        foreach (var item in value.Split(ConfigurationReader.ListSeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (IPEndPoint.TryParse(item, out var ip))
            {
                servers.Add((ip.Address.ToString(), ip.Port == 0 ? 53 : ip.Port));
                continue;
            }

            var colon = item.LastIndexOf(':');
            var host = colon < 0 ? item : item[..colon];
            var port = 53;
            if ((colon >= 0 && !int.TryParse(item[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port)) || port is < 1 or > 65535 ||
                Uri.CheckHostName(host) != UriHostNameType.Dns)
            {
                error = $"'{item}' is not host:port; expected for example 127.0.0.1:5353, [::1]:53 or dns.internal:53 (separated by ',' or ';' for several; empty for the system resolver).";
                servers = [];
                return false;
            }

            servers.Add((host, port));
        }

        return true;
    }
}
