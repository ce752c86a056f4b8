using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Mesh.Discovery.Dns.Internal;

/// <summary>One service's DNS keys: <c>Dns:Name</c>, <c>Dns:Port</c> (A/AAAA mode when set), <c>Dns:Scheme</c>.</summary>
internal sealed record DnsServiceSettings(string Name, int? Port, string Scheme)
{
    public bool IsSrv => Port is null;

    public static bool TryRead(IConfiguration service, string path, [NotNullWhen(true)] out DnsServiceSettings? settings, [NotNullWhen(false)] out string? error)
    {
        settings = null;
        var dns = service.GetSection("Dns");
        var name = dns["Name"]?.Trim().TrimEnd('.');
        if (string.IsNullOrEmpty(name))
        {
            error = $"{path}:Dns:Name: required by Dns discovery; set an SRV name such as _http._tcp.catalog.mesh.test, or a host name together with {path}:Dns:Port.";
            return false;
        }

        if (name.Length > 253 || name.Split('.').Any(label => label.Length is 0 or > 63 || label.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))))
        {
            error = $"{path}:Dns:Name: '{name}' is not a DNS name; use labels of letters, digits, '-' and '_' separated by dots.";
            return false;
        }

        int? port = null;
        if (dns["Port"] is { Length: > 0 } portText)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                error = $"{path}:Dns:Port: '{portText}' is not a port; allowed: 1 to 65535 (or absent to read ports from SRV records).";
                return false;
            }

            port = p;
        }

        var scheme = dns["Scheme"] is { Length: > 0 } s ? s.Trim().ToLowerInvariant() : Uri.UriSchemeHttp;
        if (scheme != Uri.UriSchemeHttp && scheme != Uri.UriSchemeHttps)
        {
            error = $"{path}:Dns:Scheme: '{dns["Scheme"]}' is not allowed; allowed: http (default), https.";
            return false;
        }

        settings = new DnsServiceSettings(name, port, scheme);
        error = null;
        return true;
    }
}
