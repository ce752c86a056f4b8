using System.Globalization;
using System.Net;
using Mesh.Discovery.Dns.Internal;
using Mesh.Discovery.Etcd.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Internal;

/// <summary>
/// Validates <see cref="MeshDiscoveryOptions"/> on start, and the per-service DNS keys of every service in
/// <c>Mesh:Services</c> that uses <c>Dns</c>. Every message names the full key, the value found and what is allowed.
/// </summary>
internal sealed class DiscoveryOptionsValidator(IConfiguration? configuration) : IValidateOptions<MeshDiscoveryOptions>
{
    public ValidateOptionsResult Validate(string? name, MeshDiscoveryOptions options)
    {
        var errors = Validate(options, configuration?.GetSection("Mesh:Services"));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static List<string> Validate(MeshDiscoveryOptions options, IConfigurationSection? services)
    {
        var errors = new List<string>(options.ConfigurationErrors);
        const string dns = "Mesh:Discovery:Dns";
        if (!DnsServerParser.TryParse(options.Dns.Server, out _, out var serverError))
        {
            errors.Add($"{dns}:Server: {serverError}");
        }

        Range(errors, $"{dns}:MinRefreshInterval", options.Dns.MinRefreshInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
        Range(errors, $"{dns}:MaxRefreshInterval", options.Dns.MaxRefreshInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromDays(1));
        if (options.Dns.MaxRefreshInterval < options.Dns.MinRefreshInterval)
        {
            errors.Add($"{dns}:MaxRefreshInterval: {options.Dns.MaxRefreshInterval} must be at least MinRefreshInterval ({options.Dns.MinRefreshInterval}).");
        }

        Range(errors, $"{dns}:QueryTimeout", options.Dns.QueryTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1));
        Range(errors, $"{dns}:RetryBaseDelay", options.Dns.RetryBaseDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        Range(errors, $"{dns}:RetryMaxDelay", options.Dns.RetryMaxDelay, options.Dns.RetryBaseDelay, TimeSpan.FromHours(1));

        const string etcd = "Mesh:Discovery:Etcd";
        if (!EtcdEndpointList.TryParse(options.Etcd.Endpoints, out _, out var endpointsError))
        {
            errors.Add($"{etcd}:Endpoints: {endpointsError}");
        }

        if (string.IsNullOrWhiteSpace(options.Etcd.Prefix) || !options.Etcd.Prefix.EndsWith('/'))
        {
            errors.Add($"{etcd}:Prefix: '{options.Etcd.Prefix}' must be non-empty and end with '/', for example {Etcd.EtcdDiscoveryOptions.DefaultPrefix}.");
        }

        Range(errors, $"{etcd}:RequestTimeout", options.Etcd.RequestTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        Range(errors, $"{etcd}:RetryBaseDelay", options.Etcd.RetryBaseDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        Range(errors, $"{etcd}:RetryMaxDelay", options.Etcd.RetryMaxDelay, options.Etcd.RetryBaseDelay, TimeSpan.FromHours(1));

        foreach (var service in services?.GetChildren() ?? [])
        {
            if (DiscoveryConfigurationReader.UsesProvider(service, DnsDiscoveryProvider.ProviderName) &&
                !DnsServiceSettings.TryRead(service, $"Mesh:Services:{service.Key}", out _, out var error))
            {
                errors.Add(error);
            }

            if (DiscoveryConfigurationReader.UsesProvider(service, EtcdDiscoveryProvider.ProviderName) && string.IsNullOrWhiteSpace(options.Etcd.Endpoints))
            {
                errors.Add($"{etcd}:Endpoints: required, because Mesh:Services:{service.Key}:Discovery names Etcd; set it to the etcd client URLs, for example http://127.0.0.1:2379.");
            }
        }

        return errors;
    }

    internal static void Range(List<string> errors, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key}: {value} is out of range; allowed: {min} to {max}."));
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

        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
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
                error = $"'{item}' is not host:port; expected for example 127.0.0.1:5353, [::1]:53 or dns.internal:53 (comma-separated for several; empty for the system resolver).";
                servers = [];
                return false;
            }

            servers.Add((host, port));
        }

        return true;
    }
}
