using System.Diagnostics.CodeAnalysis;
using Mesh.Configuration.Internal;
using Microsoft.Extensions.Configuration;

namespace Mesh.Discovery.ServiceDiscovery.Internal;

/// <summary>One service's <c>ServiceDiscovery</c> keys: <c>ServiceDiscovery:Name</c> (the name MESD resolves; default the
/// mesh service's name; may name an endpoint, <c>_grpc.catalog</c>) and <c>ServiceDiscovery:Schemes</c> (the schemes of the
/// query in order of preference, default <c>https, http</c>: the query <c>https+http://{name}</c>).</summary>
internal sealed record ServiceDiscoveryServiceSettings(string Name, string[] Schemes)
{
    public static bool TryRead(string service, IConfiguration section, [NotNullWhen(true)] out ServiceDiscoveryServiceSettings? settings, out List<string> errors)
    {
        settings = null;
        errors = [];
        var reader = new ConfigurationReader(errors);
        var path = ConfigurationReader.PathOf(section, ServiceDiscoveryMeshProvider.ProviderName);
        var keys = section.GetSection(ServiceDiscoveryMeshProvider.ProviderName);
        var name = reader.String(keys, "Name") ?? service;
        if (Uri.CheckHostName(name.TrimStart('_')) != UriHostNameType.Dns)
        {
            errors.Add($"{path}:Name: '{name}' is not a service name; use the name Microsoft.Extensions.ServiceDiscovery resolves (catalog, or _grpc.catalog for a named endpoint).");
        }

        string[] schemes = [Uri.UriSchemeHttps, Uri.UriSchemeHttp];
        var list = reader.List(keys.GetSection("Schemes"));
        if (list.Count > 0)
        {
            schemes = [.. list.Select(i => i.Value?.Trim().ToLowerInvariant() ?? "").Distinct()];
            foreach (var scheme in schemes.Where(s => s is not ("http" or "https")))
            {
                errors.Add($"{path}:Schemes: '{scheme}' is not allowed; allowed: http, https (default: https, http — the query https+http://{name}).");
            }
        }

        if (errors.Count > 0)
        {
            return false;
        }

        settings = new ServiceDiscoveryServiceSettings(name, schemes);
        return true;
    }
}
