using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Mesh.Configuration.Internal;

/// <summary>
/// Reads the <c>Mesh</c> section by hand (no reflection binder: AOT-safe, and every error names its full key).
/// Endpoints may be objects or plain address strings. Errors are collected, not thrown, so that validation on start
/// reports all of them at once.
/// </summary>
internal static class MeshConfigurationReader
{
    public static void Read(IConfiguration mesh, MeshOptions options)
    {
        var errors = options.ConfigurationErrors;
        if (NonEmpty(mesh["Zone"]) is { } zone)
        {
            options.Zone = zone;
        }

        ReadBool(mesh, "PassThroughUnknownHosts", errors, v => options.PassThroughUnknownHosts = v);
        ReadBool(mesh, "ReadServiceDiscoveryConfiguration", errors, v => options.ReadServiceDiscoveryConfiguration = v);
        ReadBool(mesh, "RequireMutualTls", errors, v => options.RequireMutualTls = v);
        ReadInt(mesh, "MaxConcurrentHealthChecks", errors, v => options.MaxConcurrentHealthChecks = v);
        var identity = mesh.GetSection("Identity");
        if (identity.Exists())
        {
            try
            {
                options.Identity.ReadFrom(identity);
            }
            catch (InvalidOperationException ex)
            {
                errors.Add(ex.Message);
            }
        }

        ReadTimeSpan(mesh, "ConnectTimeout", errors, v => options.ConnectTimeout = v);
        ReadTimeSpan(mesh, "DiscoveryTimeout", errors, v => options.DiscoveryTimeout = v);

        foreach (var section in mesh.GetSection("Services").GetChildren())
        {
            if (!options.Services.TryGetValue(section.Key, out var service))
            {
                service = new MeshServiceOptions();
                options.Services[section.Key] = service;
            }

            ReadService(section, service, errors);
        }
    }

    /// <summary>Reads Microsoft.Extensions.ServiceDiscovery's <c>Services:{name}:{scheme}:{i}</c> entries.</summary>
    public static void ReadServiceDiscovery(IConfiguration root, MeshOptions options)
    {
        foreach (var serviceSection in root.GetSection("Services").GetChildren())
        {
            var service = new MeshServiceOptions();
            foreach (var endpointGroup in serviceSection.GetChildren())
            {
                var scheme = endpointGroup.Key;
                var entries = endpointGroup.Value is not null ? [endpointGroup] : endpointGroup.GetChildren();
                foreach (var entry in entries)
                {
                    if (NonEmpty(entry.Value) is not { } value)
                    {
                        continue;
                    }

                    string address;
                    if (value.Contains("://", StringComparison.Ordinal))
                    {
                        address = value;
                    }
                    else if (scheme is "http" or "https")
                    {
                        address = $"{scheme}://{value}";
                    }
                    else
                    {
                        continue; // a named endpoint (_grpc, _dashboard) without a scheme: not for HTTP routing
                    }

                    service.Endpoints.Add(new MeshEndpointOptions { Address = address, SourcePath = entry.Path });
                }
            }

            if (service.Endpoints.Count > 0)
            {
                options.ServiceDiscoveryServices[serviceSection.Key] = service;
            }
        }
    }

    private static void ReadService(IConfigurationSection section, MeshServiceOptions service, List<string> errors)
    {
        ReadEnum<LoadBalancerKind>(section, "LoadBalancer", errors, v => service.LoadBalancer = v);
        if (NonEmpty(section["Discovery"]) is { } discovery)
        {
            service.Discovery = discovery;
        }

        if (section["ServerIdentity"] is { } identity)
        {
            service.ServerIdentity = NonEmpty(identity);
        }

        if (section["HashHeader"] is { } hashHeader)
        {
            service.HashHeader = NonEmpty(hashHeader);
        }

        ReadBool(section, "AllowPlainHttp", errors, v => service.AllowPlainHttp = v);
        ReadInt(section, "PanicThreshold", errors, v => service.PanicThreshold = v);
        ReadBool(section.GetSection("Telemetry"), "EndpointLabels", errors, v => service.EndpointLabels = v);
        ReadTimeSpan(section, "AttemptTimeout", errors, v => service.AttemptTimeout = v);
        ReadTimeSpan(section, "DiscoveryTimeout", errors, v => service.DiscoveryTimeout = v);

        var endpoints = section.GetSection("Endpoints");
        if (endpoints.Exists())
        {
            service.Endpoints.Clear();
            if (endpoints.Value is { } single)
            {
                service.Endpoints.Add(new MeshEndpointOptions { Address = single.Trim() });
            }

            foreach (var entry in endpoints.GetChildren())
            {
                service.Endpoints.Add(ReadEndpoint(entry, errors));
            }
        }

        var health = section.GetSection("HealthCheck");
        var hc = service.HealthCheck;
        if (health["Path"] is { } path)
        {
            hc.Path = NonEmpty(path);
        }

        ReadEnum<HealthCheckProtocol>(health, "Protocol", errors, v => hc.Protocol = v);
        if (health["GrpcService"] is { } grpcService)
        {
            hc.GrpcService = grpcService.Trim();
        }

        ReadTimeSpan(health, "Interval", errors, v => hc.Interval = v);
        ReadTimeSpan(health, "Timeout", errors, v => hc.Timeout = v);
        ReadInt(health, "UnhealthyThreshold", errors, v => hc.UnhealthyThreshold = v);
        ReadInt(health, "HealthyThreshold", errors, v => hc.HealthyThreshold = v);

        var outlier = section.GetSection("OutlierDetection");
        var od = service.OutlierDetection;
        ReadInt(outlier, "ConsecutiveFailures", errors, v => od.ConsecutiveFailures = v);
        ReadTimeSpan(outlier, "BaseEjectionTime", errors, v => od.BaseEjectionTime = v);
        ReadTimeSpan(outlier, "MaxEjectionTime", errors, v => od.MaxEjectionTime = v);
        ReadInt(outlier, "MaxEjectionPercent", errors, v => od.MaxEjectionPercent = v);
        ReadFlags<OutlierFailureKinds>(outlier, "FailureKinds", errors, v => od.FailureKinds = v);
        ReadInt(outlier, "FailureRateThreshold", errors, v => od.FailureRateThreshold = v);
        ReadInt(outlier, "FailureRateMinimumRequests", errors, v => od.FailureRateMinimumRequests = v);
        ReadTimeSpan(outlier, "FailureRateWindow", errors, v => od.FailureRateWindow = v);

        var slow = section.GetSection("SlowStart");
        ReadTimeSpan(slow, "Window", errors, v => service.SlowStart.Window = v);
        ReadDouble(slow, "Aggression", errors, v => service.SlowStart.Aggression = v);
        ReadInt(slow, "MinWeightPercent", errors, v => service.SlowStart.MinWeightPercent = v);

        var budget = section.GetSection("RetryBudget");
        ReadDouble(budget, "RetryRatio", errors, v => service.RetryBudget.RetryRatio = v);
        ReadInt(budget, "MinRetriesPerSecond", errors, v => service.RetryBudget.MinRetriesPerSecond = v);
        ReadTimeSpan(budget, "Window", errors, v => service.RetryBudget.Window = v);

        var ewma = section.GetSection("PeakEwma");
        ReadTimeSpan(ewma, "DecayTime", errors, v => service.PeakEwma.DecayTime = v);
        ReadTimeSpan(ewma, "DefaultRtt", errors, v => service.PeakEwma.DefaultRtt = v);

        var split = section.GetSection("TrafficSplit");
        if (split["MetadataKey"] is { } key)
        {
            service.TrafficSplit.MetadataKey = NonEmpty(key);
        }

        var weights = split.GetSection("Weights");
        if (weights.Exists())
        {
            service.TrafficSplit.Weights.Clear();
            foreach (var weight in weights.GetChildren())
            {
                ReadInt(weights, weight.Key, errors, v => service.TrafficSplit.Weights[weight.Key] = v);
            }
        }
    }

    private static MeshEndpointOptions ReadEndpoint(IConfigurationSection entry, List<string> errors)
    {
        if (entry.Value is { } plain)
        {
            return new MeshEndpointOptions { Address = plain.Trim() };
        }

        var endpoint = new MeshEndpointOptions { Address = entry["Address"]?.Trim() ?? "" };
        ReadInt(entry, "Weight", errors, v => endpoint.Weight = v);
        endpoint.Zone = NonEmpty(entry["Zone"]);
        foreach (var item in entry.GetSection("Metadata").GetChildren())
        {
            if (item.Value is { } value)
            {
                endpoint.Metadata[item.Key] = value;
            }
        }

        return endpoint;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static void ReadInt(IConfiguration section, string key, List<string> errors, Action<int> set)
    {
        if (NonEmpty(section[key]) is not { } raw)
        {
            return;
        }

        if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            set(value);
        }
        else
        {
            errors.Add($"{PathOf(section, key)}: '{raw}' is not an integer.");
        }
    }

    private static void ReadDouble(IConfiguration section, string key, List<string> errors, Action<double> set)
    {
        if (NonEmpty(section[key]) is not { } raw)
        {
            return;
        }

        if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
        {
            set(value);
        }
        else
        {
            errors.Add($"{PathOf(section, key)}: '{raw}' is not a number.");
        }
    }

    private static void ReadBool(IConfiguration section, string key, List<string> errors, Action<bool> set)
    {
        if (NonEmpty(section[key]) is not { } raw)
        {
            return;
        }

        if (bool.TryParse(raw, out var value))
        {
            set(value);
        }
        else
        {
            errors.Add($"{PathOf(section, key)}: '{raw}' is not valid; allowed values: true, false.");
        }
    }

    private static void ReadTimeSpan(IConfiguration section, string key, List<string> errors, Action<TimeSpan> set)
    {
        if (NonEmpty(section[key]) is not { } raw)
        {
            return;
        }

        // A bare number would be read as days by TimeSpan.Parse ("30" = 30 days): require hh:mm:ss.
        if (raw.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(raw, CultureInfo.InvariantCulture, out var value))
        {
            set(value);
        }
        else
        {
            errors.Add($"{PathOf(section, key)}: '{raw}' is not a time span; use hh:mm:ss[.fff], for example 00:00:05 or 00:00:00.250.");
        }
    }

    private static void ReadEnum<T>(IConfiguration section, string key, List<string> errors, Action<T> set)
        where T : struct, Enum
    {
        if (NonEmpty(section[key]) is not { } raw)
        {
            return;
        }

        if (!char.IsDigit(raw[0]) && raw[0] != '-' && Enum.TryParse<T>(raw, ignoreCase: true, out var value) && Enum.IsDefined(value))
        {
            set(value);
        }
        else
        {
            errors.Add($"{PathOf(section, key)}: '{raw}' is not valid; allowed values: {string.Join(", ", Enum.GetNames<T>())}.");
        }
    }

    private static void ReadFlags<T>(IConfiguration section, string key, List<string> errors, Action<T> set)
        where T : struct, Enum
    {
        if (NonEmpty(section[key]) is not { } raw)
        {
            return;
        }

        var parts = raw.Split([',', '|', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        ulong bits = 0;
        foreach (var part in parts)
        {
            if (char.IsDigit(part[0]) || !Enum.TryParse<T>(part, ignoreCase: true, out var flag) || !Enum.IsDefined(flag))
            {
                errors.Add($"{PathOf(section, key)}: '{part}' is not valid; allowed values (comma-separated): {string.Join(", ", Enum.GetNames<T>())}.");
                return;
            }

            bits |= Convert.ToUInt64(flag, CultureInfo.InvariantCulture);
        }

        set((T)Enum.ToObject(typeof(T), bits));
    }

    private static string PathOf(IConfiguration section, string key) =>
        section is IConfigurationSection s ? ConfigurationPath.Combine(s.Path, key) : key;
}
