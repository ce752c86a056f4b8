using System.Globalization;
using Mesh.Discovery.Registration;
using Microsoft.Extensions.Configuration;

namespace Mesh.Discovery.Internal;

/// <summary>
/// Reads <c>Mesh:Discovery</c> and <c>Mesh:Registration</c> without reflection (AOT-safe). A value that does not parse
/// is recorded as an error naming the full key and the expected format, reported by validation on start.
/// </summary>
internal static class DiscoveryConfigurationReader
{
    public static void Read(IConfigurationSection discovery, MeshDiscoveryOptions options)
    {
        var errors = options.ConfigurationErrors;
        var dns = discovery.GetSection("Dns");
        options.Dns.Server = dns["Server"] ?? options.Dns.Server;
        ReadTime(dns, "MinRefreshInterval", errors, v => options.Dns.MinRefreshInterval = v);
        ReadTime(dns, "MaxRefreshInterval", errors, v => options.Dns.MaxRefreshInterval = v);
        ReadTime(dns, "QueryTimeout", errors, v => options.Dns.QueryTimeout = v);
        ReadTime(dns, "RetryBaseDelay", errors, v => options.Dns.RetryBaseDelay = v);
        ReadTime(dns, "RetryMaxDelay", errors, v => options.Dns.RetryMaxDelay = v);

        var etcd = discovery.GetSection("Etcd");
        options.Etcd.Endpoints = etcd["Endpoints"] ?? options.Etcd.Endpoints;
        options.Etcd.Prefix = etcd["Prefix"] ?? options.Etcd.Prefix;
        ReadTime(etcd, "RequestTimeout", errors, v => options.Etcd.RequestTimeout = v);
        ReadTime(etcd, "RetryBaseDelay", errors, v => options.Etcd.RetryBaseDelay = v);
        ReadTime(etcd, "RetryMaxDelay", errors, v => options.Etcd.RetryMaxDelay = v);
    }

    public static void Read(IConfigurationSection registration, MeshRegistrationOptions options)
    {
        var errors = options.ConfigurationErrors;
        options.Service = registration["Service"] ?? options.Service;
        options.Address = registration["Address"] ?? options.Address;
        options.Zone = registration["Zone"] ?? options.Zone;
        options.InstanceId = registration["InstanceId"] ?? options.InstanceId;
        if (registration["Weight"] is { } weight)
        {
            if (int.TryParse(weight, NumberStyles.Integer, CultureInfo.InvariantCulture, out var w))
            {
                options.Weight = w;
            }
            else
            {
                errors.Add($"{registration.Path}:Weight: '{weight}' is not an integer; allowed: 1 to 1000000.");
            }
        }

        ReadTime(registration, "LeaseTtl", errors, v => options.LeaseTtl = v);
        foreach (var item in registration.GetSection("Metadata").GetChildren())
        {
            if (item.Value is { } value)
            {
                options.Metadata[item.Key] = value;
            }
        }
    }

    private static void ReadTime(IConfigurationSection section, string key, List<string> errors, Action<TimeSpan> set)
    {
        if (section[key] is not { } text || text.Length == 0)
        {
            return;
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value))
        {
            set(value);
        }
        else
        {
            errors.Add($"{section.Path}:{key}: '{text}' is not a time span; expected [d.]hh:mm:ss[.fff], for example 00:00:05.");
        }
    }

    /// <summary>The discovery sources a service section names (<c>Discovery</c>, comma-separated; default Configuration).</summary>
    public static bool UsesProvider(IConfigurationSection service, string provider) =>
        (service["Discovery"] ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Contains(provider, StringComparer.OrdinalIgnoreCase);
}
