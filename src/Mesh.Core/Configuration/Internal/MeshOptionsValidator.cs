using System.Globalization;
using Mesh.LoadBalancing.Internal;

namespace Mesh.Configuration.Internal;

/// <summary>
/// Validates <see cref="MeshOptions"/>: the limits the options declare with <see cref="AllowedRangeAttribute"/> (checked by
/// the generated <see cref="MeshOptionsRanges"/>), and here, by hand, the rules across fields and what depends on the
/// rest of the app (registered discovery providers, an identity source). Every message names the full configuration key
/// of the section that was bound, the value found and what is allowed. Run when the host starts (a failure stops it, with
/// every problem at once) and on every configuration reload (a failure keeps the last good configuration).
/// </summary>
internal static class MeshOptionsValidator
{
    private static MeshOptionsRanges Ranges => MeshOptionsRanges.Instance;

    /// <summary>Validates <paramref name="options"/>.</summary>
    /// <param name="options">The options.</param>
    /// <param name="discoveryProviders">The names of the registered discovery providers; <see langword="null"/> when they
    /// could not be built (their own validation reports why), which skips the check of <c>Discovery</c> names.</param>
    /// <param name="hasIdentitySource">Whether an <see cref="Mesh.Identity.IMeshIdentitySource"/> was registered in code
    /// (an identity from <c>Mesh:Identity</c> is seen in <paramref name="options"/>).</param>
    /// <param name="balancers">The registered load balancers; <see langword="null"/> for the built-in ones only.</param>
    public static List<string> Validate(MeshOptions options, IReadOnlyCollection<string>? discoveryProviders, bool hasIdentitySource = false, LoadBalancerCatalog? balancers = null)
    {
        var errors = new List<string>(options.ConfigurationErrors);
        balancers ??= LoadBalancerCatalog.BuiltIn;
        foreach (var duplicate in balancers.Duplicates)
        {
            errors.Add($"Load balancer name {duplicate} is registered by two balancer types; give each MeshLoadBalancer its own name (built-in names: {string.Join(", ", Enum.GetNames<LoadBalancerKind>())}).");
        }

        var mesh = options.SectionPath;
        MeshOptionsRanges.AddTo(errors, Ranges.Validate(mesh, options));

        var identity = options.Identity;
        var hasIdentity = hasIdentitySource || identity.CertificatePath is not null;
        if (options.RequireMutualTls && !hasIdentity)
        {
            errors.Add($"{mesh}:RequireMutualTls: true, but the workload has no identity to present; configure {mesh}:Identity (CertificatePath, KeyPath, TrustBundlePath) or register an IMeshIdentitySource.");
        }

        foreach (var (name, service) in options.Services)
        {
            var path = options.ServicePath(name);
            ValidateService(path, name, service, discoveryProviders, balancers, errors);
            ValidateTransportSecurity(path, name, service, options, hasIdentity, errors);
        }

        if ((identity.CertificatePath ?? identity.KeyPath ?? identity.TrustBundlePath) is not null)
        {
            // Configured in code (or under Mesh:Identity): name the key it has, or would have, under the bound section.
            errors.AddRange(identity.Validate(identity.ConfigurationPath == Mesh.Identity.MeshIdentityOptions.SectionName ? $"{mesh}:Identity" : null));
        }

        foreach (var (name, service) in options.ReadServiceDiscoveryConfiguration ? options.ServiceDiscoveryServices : [])
        {
            if (!options.Services.ContainsKey(name))
            {
                ValidateEndpoints($"Services:{name}", service, errors);
                ValidateTransportSecurity($"Services:{name}", name, service, options, hasIdentity, errors);
            }
        }

        return errors;
    }

    private static void ValidateService(string path, string name, MeshServiceOptions service, IReadOnlyCollection<string>? providers, LoadBalancerCatalog balancers, List<string> errors)
    {
        if (Uri.CheckHostName(name) != UriHostNameType.Dns)
        {
            errors.Add($"{path}: '{name}' is not a valid service name; a service name is used as a host name (http://{name}), so use letters, digits, '-' and '.'.");
        }

        MeshOptionsRanges.AddTo(errors, Ranges.Validate(path, service));
        if (!balancers.TryGet(service.LoadBalancerName, out _))
        {
            errors.Add($"{path}:LoadBalancer: '{service.LoadBalancerName}' is not valid; allowed values: {string.Join(", ", balancers.Names)} " +
                "(the built-in balancers, and those registered with services.AddMeshLoadBalancer<TBalancer>()).");
        }

        var discovery = ParseDiscovery(service.Discovery);
        foreach (var source in discovery)
        {
            if (providers is not null && !source.Equals(MeshServiceOptions.ConfigurationDiscoveryName, StringComparison.OrdinalIgnoreCase) &&
                !providers.Contains(source, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{path}:Discovery: '{source}' is not a registered discovery provider; registered: {string.Join(", ", providers.Prepend(MeshServiceOptions.ConfigurationDiscoveryName))}. " +
                    HowToRegister(source));
            }
        }

        var fromConfiguration = discovery.Contains(MeshServiceOptions.ConfigurationDiscoveryName, StringComparer.OrdinalIgnoreCase);
        if (fromConfiguration && discovery.Length == 1 && service.Endpoints.Count == 0)
        {
            errors.Add($"{path}:Endpoints: the service has no endpoints; list them under {path}:Endpoints, or set {path}:Discovery to a discovery provider.");
        }

        ValidateEndpoints(path, service, errors);

        if (service.ServerIdentity is { } serverIdentity && !Mesh.Identity.SpiffeIdPattern.TryParse(serverIdentity, out _))
        {
            errors.Add($"{path}:ServerIdentity: '{serverIdentity}' is not a SPIFFE ID or pattern; expected an exact ID (spiffe://mesh.test/catalog), a prefix ending in /* (spiffe://mesh.test/catalog/*) or a trust domain (spiffe://mesh.test/*).");
        }

        var hc = service.HealthCheck;
        MeshOptionsRanges.AddTo(errors, Ranges.Validate($"{path}:HealthCheck", hc));
        if (hc.Path is { } hcPath && !hcPath.StartsWith('/'))
        {
            errors.Add($"{path}:HealthCheck:Path: '{hcPath}' must start with '/', for example /healthz.");
        }

        if (!Enum.IsDefined(hc.Protocol))
        {
            errors.Add($"{path}:HealthCheck:Protocol: '{hc.Protocol}' is not valid; allowed values: {string.Join(", ", Enum.GetNames<HealthCheckProtocol>())}.");
        }

        var od = service.OutlierDetection;
        MeshOptionsRanges.AddTo(errors, Ranges.Validate($"{path}:OutlierDetection", od));
        if (od.MaxEjectionTime < od.BaseEjectionTime)
        {
            errors.Add($"{path}:OutlierDetection:MaxEjectionTime: {od.MaxEjectionTime:c} must be at least BaseEjectionTime ({od.BaseEjectionTime:c}).");
        }

        if ((od.GrpcStatusCodes & ~OutlierDetectionOptions.AllGrpcStatusCodes) != 0)
        {
            errors.Add($"{path}:OutlierDetection:GrpcStatusCodes: '{od.GrpcStatusCodes}' holds a value that is not a gRPC status other than OK; allowed: GrpcStatusCodes members (Cancelled to Unauthenticated), or None.");
        }

        MeshOptionsRanges.AddTo(errors, Ranges.Validate($"{path}:SlowStart", service.SlowStart));
        MeshOptionsRanges.AddTo(errors, Ranges.Validate($"{path}:RetryBudget", service.RetryBudget));
        MeshOptionsRanges.AddTo(errors, Ranges.Validate($"{path}:PeakEwma", service.PeakEwma));
        var hedging = service.Hedging;
        MeshOptionsRanges.AddTo(errors, Ranges.Validate($"{path}:Hedging", hedging));
        if (hedging.MaxDelay < hedging.MinDelay)
        {
            errors.Add($"{path}:Hedging:MaxDelay: {hedging.MaxDelay:c} must be at least MinDelay ({hedging.MinDelay:c}).");
        }

        var split = service.TrafficSplit;
        if (split.Weights.Count > 0 && split.MetadataKey is null)
        {
            errors.Add($"{path}:TrafficSplit:MetadataKey: required when TrafficSplit:Weights is set (for example 'version').");
        }

        foreach (var (group, weight) in split.Weights)
        {
            if (weight is < 0 or > 1_000_000)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:TrafficSplit:Weights:{group}: {weight} is out of range; allowed: 0 to 1000000."));
            }
        }

        if (split.Enabled && split.Weights.Values.All(w => w <= 0))
        {
            errors.Add($"{path}:TrafficSplit:Weights: at least one group needs a positive weight.");
        }
    }

    /// <summary>Whether a service must be reached over mutual TLS only: it has a <c>ServerIdentity</c>, or the mesh
    /// requires mutual TLS everywhere, and it did not opt in to plain http.</summary>
    internal static bool RequiresMutualTls(MeshServiceOptions service, bool meshRequiresMutualTls) =>
        (service.ServerIdentity is not null || meshRequiresMutualTls) && !service.AllowPlainHttp;

    private static void ValidateTransportSecurity(string path, string name, MeshServiceOptions service, MeshOptions mesh, bool hasIdentity, List<string> errors)
    {
        if (service.ServerIdentity is not null && !hasIdentity)
        {
            errors.Add($"{path}:ServerIdentity: '{service.ServerIdentity}' cannot be verified: the workload has no identity for mutual TLS. " +
                $"Configure {mesh.SectionPath}:Identity (CertificatePath, KeyPath, TrustBundlePath) or register an IMeshIdentitySource.");
        }

        if (!RequiresMutualTls(service, mesh.RequireMutualTls))
        {
            return;
        }

        var why = service.ServerIdentity is not null ? $"{path}:ServerIdentity is set" : $"{mesh.SectionPath}:RequireMutualTls is true";
        for (var i = 0; i < service.Endpoints.Count; i++)
        {
            var endpoint = service.Endpoints[i];
            if (Uri.TryCreate(endpoint.Address, UriKind.Absolute, out var uri) && uri.Scheme != Uri.UriSchemeHttps && MeshEndpoint.TryValidateAddress(uri, out _))
            {
                errors.Add($"{AddressKey(endpoint, path, i)}: '{endpoint.Address}' is plain {uri.Scheme}, but mesh service '{name}' requires mutual TLS ({why}); " +
                    $"use an https address, or set {path}:AllowPlainHttp to true to send this service's requests in clear text on purpose.");
            }
        }
    }

    private static void ValidateEndpoints(string path, MeshServiceOptions service, List<string> errors)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < service.Endpoints.Count; i++)
        {
            var endpoint = service.Endpoints[i];
            var at = ItemKey(endpoint, path, i);
            if (!endpoint.PlainAddress)
            {
                MeshOptionsRanges.AddTo(errors, Ranges.Validate(at, endpoint));
            }

            if (string.IsNullOrWhiteSpace(endpoint.Address))
            {
                errors.Add($"{AddressKey(endpoint, path, i)}: missing; expected scheme://host:port, for example http://127.0.0.1:5001.");
                continue;
            }

            if (!Uri.TryCreate(endpoint.Address, UriKind.Absolute, out var uri))
            {
                errors.Add($"{AddressKey(endpoint, path, i)}: '{endpoint.Address}' is not an absolute address; expected scheme://host:port, for example http://127.0.0.1:5001.");
                continue;
            }

            if (!MeshEndpoint.TryValidateAddress(uri, out var problem))
            {
                errors.Add($"{AddressKey(endpoint, path, i)}: {problem}");
                continue;
            }

            var key = MeshEndpoint.CreateKey(uri);
            if (seen.TryGetValue(key, out var first))
            {
                errors.Add($"{at}: duplicate endpoint {key} (already at {ItemKey(service.Endpoints[first], path, first)}); list each address once and use Weight for a larger share.");
            }
            else
            {
                seen[key] = i;
            }
        }
    }

    /// <summary>The key of endpoint <paramref name="i"/>: where it was read from, or where it would be.</summary>
    private static string ItemKey(MeshEndpointOptions endpoint, string path, int i) =>
        endpoint.SourcePath ?? string.Create(CultureInfo.InvariantCulture, $"{path}:Endpoints:{i}");

    /// <summary>The key of the endpoint's address: the item itself for a plain address, else its <c>Address</c>.</summary>
    private static string AddressKey(MeshEndpointOptions endpoint, string path, int i) =>
        endpoint.PlainAddress ? ItemKey(endpoint, path, i) : $"{ItemKey(endpoint, path, i)}:Address";

    internal static string[] ParseDiscovery(string? discovery) =>
        string.IsNullOrWhiteSpace(discovery)
            ? [MeshServiceOptions.ConfigurationDiscoveryName]
            : discovery.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string HowToRegister(string provider) => provider.ToUpperInvariant() switch
    {
        "DNS" or "ETCD" => "Call services.AddMeshDiscovery() from the Mesh.Discovery package to register the Dns and Etcd providers.",
        "DOCKER" => "Call services.AddMeshDockerDiscovery() from the Mesh.Containers package to register the Docker provider.",
        "SERVICEDISCOVERY" => "Call services.AddMeshServiceDiscovery() from the Mesh.Discovery package to take endpoints from Microsoft.Extensions.ServiceDiscovery.",
        _ => "Register the provider with services.AddMeshDiscoveryProvider<TProvider>().",
    };
}
