using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Mesh.Configuration.Internal;
using Microsoft.Extensions.Configuration;

namespace Mesh.Discovery.Dns.Internal;

/// <summary>One service's DNS keys: <c>Dns:Name</c>, <c>Dns:Port</c> (A/AAAA mode when set), <c>Dns:Scheme</c>.</summary>
internal sealed record DnsServiceSettings(string Name, int? Port, string Scheme)
{
    public bool IsSrv => Port is null;

    /// <summary>Reads the keys of <paramref name="service"/> (a <c>{mesh}:Services:{name}</c> section); every problem
    /// is reported, naming the full key.</summary>
    public static bool TryRead(IConfiguration service, [NotNullWhen(true)] out DnsServiceSettings? settings, out List<string> errors)
    {
        settings = null;
        errors = [];
        var reader = new ConfigurationReader(errors);
        var path = ConfigurationReader.PathOf(service, "Dns");
        var dns = service.GetSection("Dns");
        var name = reader.String(dns, "Name")?.TrimEnd('.');
        if (string.IsNullOrEmpty(name))
        {
            errors.Add($"{path}:Name: required by Dns discovery; set an SRV name such as _http._tcp.catalog.mesh.test, or a host name together with {path}:Port.");
        }
        else if (name.Length > 253 || name.Split('.').Any(label => label.Length is 0 or > 63 || label.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))))
        {
            errors.Add($"{path}:Name: '{name}' is not a DNS name; use labels of letters, digits, '-' and '_' separated by dots.");
        }

        int? port = null;
        if (ConfigurationReader.Value(dns, "Port") is { } portText)
        {
            if (int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535)
            {
                port = p;
            }
            else
            {
                errors.Add($"{path}:Port: '{portText}' is not a port; allowed: 1 to 65535 (or absent to read ports from SRV records).");
            }
        }

        var scheme = reader.String(dns, "Scheme")?.ToLowerInvariant() ?? Uri.UriSchemeHttp;
        if (scheme != Uri.UriSchemeHttp && scheme != Uri.UriSchemeHttps)
        {
            errors.Add($"{path}:Scheme: '{dns["Scheme"]}' is not allowed; allowed: http (default), https.");
        }

        if (errors.Count > 0)
        {
            return false;
        }

        settings = new DnsServiceSettings(name!, port, scheme);
        return true;
    }
}
