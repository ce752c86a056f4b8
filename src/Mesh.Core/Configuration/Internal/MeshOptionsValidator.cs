using System.Globalization;

namespace Mesh.Configuration.Internal;

/// <summary>
/// Validates <see cref="MeshOptions"/>. Every message names the full configuration key, the value found and
/// what is allowed. Run when the host starts (a failure stops it) and on every configuration reload (a failure keeps
/// the last good configuration).
/// </summary>
internal static class MeshOptionsValidator
{
    /// <summary>Validates <paramref name="options"/>.</summary>
    /// <param name="options">The options.</param>
    /// <param name="discoveryProviders">The names of the registered discovery providers.</param>
    /// <param name="hasIdentitySource">Whether an <see cref="Mesh.Identity.IMeshIdentitySource"/> was registered in code
    /// (an identity from <c>Mesh:Identity</c> is seen in <paramref name="options"/>).</param>
    public static List<string> Validate(MeshOptions options, IReadOnlyCollection<string> discoveryProviders, bool hasIdentitySource = false)
    {
        var errors = new List<string>(options.ConfigurationErrors);
        if (options.MaxConcurrentHealthChecks is < 1 or > 1024)
        {
            errors.Add($"Mesh:MaxConcurrentHealthChecks: {options.MaxConcurrentHealthChecks} is out of range; allowed: 1 to 1024.");
        }

        if (options.ConnectTimeout < TimeSpan.FromMilliseconds(100) || options.ConnectTimeout > TimeSpan.FromMinutes(5))
        {
            errors.Add($"Mesh:ConnectTimeout: {options.ConnectTimeout} is out of range; allowed: 00:00:00.100 to 00:05:00.");
        }

        var identity = options.Identity;
        var hasIdentity = hasIdentitySource || identity.CertificatePath is not null;
        if (options.RequireMutualTls && !hasIdentity)
        {
            errors.Add("Mesh:RequireMutualTls: true, but the workload has no identity to present; configure Mesh:Identity (CertificatePath, KeyPath, TrustBundlePath) or register an IMeshIdentitySource.");
        }

        if (options.DiscoveryTimeout < TimeSpan.Zero || options.DiscoveryTimeout > TimeSpan.FromMinutes(5))
        {
            errors.Add($"Mesh:DiscoveryTimeout: {options.DiscoveryTimeout} is out of range; allowed: 00:00:00 (never wait) to 00:05:00.");
        }

        foreach (var (name, service) in options.Services)
        {
            ValidateService($"Mesh:Services:{name}", name, service, discoveryProviders, errors);
            ValidateTransportSecurity($"Mesh:Services:{name}", name, service, options, hasIdentity, errors);
        }

        if ((identity.CertificatePath ?? identity.KeyPath ?? identity.TrustBundlePath) is not null && !identity.TryValidate(out var identityError))
        {
            errors.Add(identityError);
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

    private static void ValidateService(string path, string name, MeshServiceOptions service, IReadOnlyCollection<string> providers, List<string> errors)
    {
        if (Uri.CheckHostName(name) != UriHostNameType.Dns)
        {
            errors.Add($"{path}: '{name}' is not a valid service name; a service name is used as a host name (http://{name}), so use letters, digits, '-' and '.'.");
        }

        if (!Enum.IsDefined(service.LoadBalancer))
        {
            errors.Add($"{path}:LoadBalancer: '{service.LoadBalancer}' is not valid; allowed values: {string.Join(", ", Enum.GetNames<LoadBalancerKind>())}.");
        }

        var discovery = ParseDiscovery(service.Discovery);
        foreach (var source in discovery)
        {
            if (!source.Equals(MeshServiceOptions.ConfigurationDiscoveryName, StringComparison.OrdinalIgnoreCase) &&
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

        if (service.PanicThreshold is < 0 or > 100)
        {
            errors.Add($"{path}:PanicThreshold: {service.PanicThreshold} is out of range; allowed: 0 (never) to 100 (percent of endpoints healthy).");
        }

        if (service.ServerIdentity is { } serverIdentity && !Mesh.Identity.SpiffeIdPattern.TryParse(serverIdentity, out _))
        {
            errors.Add($"{path}:ServerIdentity: '{serverIdentity}' is not a SPIFFE ID or pattern; expected an exact ID (spiffe://mesh.test/catalog), a prefix ending in /* (spiffe://mesh.test/catalog/*) or a trust domain (spiffe://mesh.test/*).");
        }

        if (service.AttemptTimeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            errors.Add($"{path}:AttemptTimeout: {timeout} must be more than zero (or absent for no mesh deadline).");
        }

        if (service.DiscoveryTimeout is { } discoveryTimeout && (discoveryTimeout < TimeSpan.Zero || discoveryTimeout > TimeSpan.FromMinutes(5)))
        {
            errors.Add($"{path}:DiscoveryTimeout: {discoveryTimeout} is out of range; allowed: 00:00:00 (never wait) to 00:05:00, or absent for Mesh:DiscoveryTimeout.");
        }

        var hc = service.HealthCheck;
        if (hc.Path is { } hcPath && !hcPath.StartsWith('/'))
        {
            errors.Add($"{path}:HealthCheck:Path: '{hcPath}' must start with '/', for example /healthz.");
        }

        if (!Enum.IsDefined(hc.Protocol))
        {
            errors.Add($"{path}:HealthCheck:Protocol: '{hc.Protocol}' is not valid; allowed values: {string.Join(", ", Enum.GetNames<HealthCheckProtocol>())}.");
        }

        if (hc.Interval < TimeSpan.FromMilliseconds(100) || hc.Interval > TimeSpan.FromHours(1))
        {
            errors.Add($"{path}:HealthCheck:Interval: {hc.Interval} is out of range; allowed: 00:00:00.100 to 01:00:00.");
        }

        if (hc.Timeout <= TimeSpan.Zero || hc.Timeout > hc.Interval)
        {
            errors.Add($"{path}:HealthCheck:Timeout: {hc.Timeout} is out of range; allowed: more than zero and at most the interval ({hc.Interval}).");
        }

        Range(errors, $"{path}:HealthCheck:UnhealthyThreshold", hc.UnhealthyThreshold, 1, 100);
        Range(errors, $"{path}:HealthCheck:HealthyThreshold", hc.HealthyThreshold, 1, 100);

        var od = service.OutlierDetection;
        Range(errors, $"{path}:OutlierDetection:ConsecutiveFailures", od.ConsecutiveFailures, 0, 1000);
        Range(errors, $"{path}:OutlierDetection:MaxEjectionPercent", od.MaxEjectionPercent, 0, 100);
        Range(errors, $"{path}:OutlierDetection:FailureRateThreshold", od.FailureRateThreshold, 0, 100);
        Range(errors, $"{path}:OutlierDetection:FailureRateMinimumRequests", od.FailureRateMinimumRequests, 1, 1_000_000);
        if (od.BaseEjectionTime <= TimeSpan.Zero)
        {
            errors.Add($"{path}:OutlierDetection:BaseEjectionTime: {od.BaseEjectionTime} must be more than zero.");
        }

        if (od.MaxEjectionTime < od.BaseEjectionTime)
        {
            errors.Add($"{path}:OutlierDetection:MaxEjectionTime: {od.MaxEjectionTime} must be at least BaseEjectionTime ({od.BaseEjectionTime}).");
        }

        if (od.FailureRateWindow < TimeSpan.FromSeconds(1) || od.FailureRateWindow > TimeSpan.FromHours(1))
        {
            errors.Add($"{path}:OutlierDetection:FailureRateWindow: {od.FailureRateWindow} is out of range; allowed: 00:00:01 to 01:00:00.");
        }

        var slow = service.SlowStart;
        if (slow.Window < TimeSpan.Zero || slow.Window > TimeSpan.FromHours(1))
        {
            errors.Add($"{path}:SlowStart:Window: {slow.Window} is out of range; allowed: 00:00:00 (off) to 01:00:00.");
        }

        if (!(slow.Aggression > 0) || slow.Aggression > 100)
        {
            errors.Add($"{path}:SlowStart:Aggression: {slow.Aggression.ToString(CultureInfo.InvariantCulture)} is out of range; allowed: more than 0, up to 100 (1 is linear).");
        }

        Range(errors, $"{path}:SlowStart:MinWeightPercent", slow.MinWeightPercent, 1, 100);

        var budget = service.RetryBudget;
        if (budget.RetryRatio is > 10)
        {
            errors.Add($"{path}:RetryBudget:RetryRatio: {budget.RetryRatio.ToString(CultureInfo.InvariantCulture)} is out of range; allowed: 0 to 10, or a negative value (-1) to turn the budget off.");
        }

        Range(errors, $"{path}:RetryBudget:MinRetriesPerSecond", budget.MinRetriesPerSecond, 0, 100_000);
        if (budget.Window < TimeSpan.FromSeconds(1) || budget.Window > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{path}:RetryBudget:Window: {budget.Window} is out of range; allowed: 00:00:01 to 00:10:00.");
        }

        if (service.PeakEwma.DecayTime <= TimeSpan.Zero)
        {
            errors.Add($"{path}:PeakEwma:DecayTime: {service.PeakEwma.DecayTime} must be more than zero.");
        }

        if (service.PeakEwma.DefaultRtt <= TimeSpan.Zero)
        {
            errors.Add($"{path}:PeakEwma:DefaultRtt: {service.PeakEwma.DefaultRtt} must be more than zero.");
        }

        var split = service.TrafficSplit;
        if (split.Weights.Count > 0 && split.MetadataKey is null)
        {
            errors.Add($"{path}:TrafficSplit:MetadataKey: required when TrafficSplit:Weights is set (for example 'version').");
        }

        foreach (var (group, weight) in split.Weights)
        {
            Range(errors, $"{path}:TrafficSplit:Weights:{group}", weight, 0, 1_000_000);
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
                "Configure Mesh:Identity (CertificatePath, KeyPath, TrustBundlePath) or register an IMeshIdentitySource.");
        }

        if (!RequiresMutualTls(service, mesh.RequireMutualTls))
        {
            return;
        }

        var why = service.ServerIdentity is not null ? $"{path}:ServerIdentity is set" : "Mesh:RequireMutualTls is true";
        for (var i = 0; i < service.Endpoints.Count; i++)
        {
            var endpoint = service.Endpoints[i];
            if (Uri.TryCreate(endpoint.Address, UriKind.Absolute, out var uri) && uri.Scheme != Uri.UriSchemeHttps && MeshEndpoint.TryValidateAddress(uri, out _))
            {
                errors.Add($"{At(endpoint, $"{path}:Endpoints:{i}")}: '{endpoint.Address}' is plain {uri.Scheme}, but mesh service '{name}' requires mutual TLS ({why}); " +
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
            var at = endpoint.SourcePath ?? $"{path}:Endpoints:{i}";
            if (string.IsNullOrWhiteSpace(endpoint.Address))
            {
                errors.Add($"{At(endpoint, at)}: missing; expected scheme://host:port, for example http://127.0.0.1:5001.");
                continue;
            }

            if (!Uri.TryCreate(endpoint.Address, UriKind.Absolute, out var uri))
            {
                errors.Add($"{At(endpoint, at)}: '{endpoint.Address}' is not an absolute address; expected scheme://host:port, for example http://127.0.0.1:5001.");
                continue;
            }

            if (!MeshEndpoint.TryValidateAddress(uri, out var problem))
            {
                errors.Add($"{At(endpoint, at)}: {problem}");
                continue;
            }

            if (endpoint.Weight <= 0)
            {
                errors.Add($"{at}:Weight: {endpoint.Weight} is not allowed; a weight is a positive integer (default 1).");
            }

            var key = MeshEndpoint.CreateKey(uri);
            if (seen.TryGetValue(key, out var first))
            {
                errors.Add($"{at}: duplicate endpoint {key} (already at {service.Endpoints[first].SourcePath ?? $"{path}:Endpoints:{first}"}); list each address once and use Weight for a larger share.");
            }
            else
            {
                seen[key] = i;
            }
        }
    }

    private static string At(MeshEndpointOptions endpoint, string at) => endpoint.SourcePath ?? $"{at}:Address";

    internal static string[] ParseDiscovery(string? discovery) =>
        string.IsNullOrWhiteSpace(discovery)
            ? [MeshServiceOptions.ConfigurationDiscoveryName]
            : discovery.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string HowToRegister(string provider) => provider.ToUpperInvariant() switch
    {
        "DNS" or "ETCD" => "Call services.AddMeshDiscovery() from the Mesh.Discovery package to register the Dns and Etcd providers.",
        "DOCKER" => "Call services.AddMeshDockerDiscovery() from the Mesh.Containers package to register the Docker provider.",
        _ => "Register the provider with services.AddMeshDiscoveryProvider<TProvider>().",
    };

    private static void Range(List<string> errors, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{key}: {value} is out of range; allowed: {min} to {max}.");
        }
    }
}
