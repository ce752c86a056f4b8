using Microsoft.Extensions.Configuration;

namespace Mesh.Configuration.Internal;

/// <summary>
/// Reads a section shaped like <c>Mesh</c> into <see cref="MeshOptions"/>, in the one dialect of every Mesh package
/// (<see cref="ConfigurationReader"/>): the reader takes what the binder cannot express strictly — the services map, endpoint
/// lists (objects or plain addresses, a plain value replacing earlier providers' items), flags, time spans and enums on
/// this level — and the configuration binder source generator binds the flat option groups (<c>HealthCheck</c>,
/// <c>OutlierDetection</c>, <c>SlowStart</c>, <c>RetryBudget</c>, <c>PeakEwma</c>, <c>Identity</c>) once their values
/// passed the strict check. Every problem is collected in <see cref="MeshOptions.ConfigurationErrors"/>, naming the full
/// key of the section that was bound.
/// </summary>
internal static class MeshConfigurationReader
{
    private static readonly ConfigurationKey[] s_healthCheck =
    [
        ConfigurationKey.String(nameof(HealthCheckOptions.Path)),
        ConfigurationKey.Enum<HealthCheckProtocol>(nameof(HealthCheckOptions.Protocol)),
        ConfigurationKey.String(nameof(HealthCheckOptions.GrpcService)),
        ConfigurationKey.TimeSpan(nameof(HealthCheckOptions.Interval)),
        ConfigurationKey.TimeSpan(nameof(HealthCheckOptions.Timeout)),
        ConfigurationKey.Int32(nameof(HealthCheckOptions.UnhealthyThreshold)),
        ConfigurationKey.Int32(nameof(HealthCheckOptions.HealthyThreshold)),
    ];

    private static readonly ConfigurationKey[] s_outlierDetection =
    [
        ConfigurationKey.Int32(nameof(OutlierDetectionOptions.ConsecutiveFailures)),
        ConfigurationKey.TimeSpan(nameof(OutlierDetectionOptions.BaseEjectionTime)),
        ConfigurationKey.TimeSpan(nameof(OutlierDetectionOptions.MaxEjectionTime)),
        ConfigurationKey.Int32(nameof(OutlierDetectionOptions.MaxEjectionPercent)),
        ConfigurationKey.Int32(nameof(OutlierDetectionOptions.FailureRateThreshold)),
        ConfigurationKey.Int32(nameof(OutlierDetectionOptions.FailureRateMinimumRequests)),
        ConfigurationKey.TimeSpan(nameof(OutlierDetectionOptions.FailureRateWindow)),

        // FailureKinds and GrpcStatusCodes (flags) are read by the reader.
    ];

    private static readonly ConfigurationKey[] s_slowStart =
    [
        ConfigurationKey.TimeSpan(nameof(SlowStartOptions.Window)),
        ConfigurationKey.Double(nameof(SlowStartOptions.Aggression)),
        ConfigurationKey.Int32(nameof(SlowStartOptions.MinWeightPercent)),
    ];

    private static readonly ConfigurationKey[] s_retryBudget =
    [
        ConfigurationKey.Double(nameof(RetryBudgetOptions.RetryRatio)),
        ConfigurationKey.Int32(nameof(RetryBudgetOptions.MinRetriesPerSecond)),
        ConfigurationKey.TimeSpan(nameof(RetryBudgetOptions.Window)),
    ];

    private static readonly ConfigurationKey[] s_hedging =
    [
        ConfigurationKey.Boolean(nameof(HedgingOptions.Enabled)),
        ConfigurationKey.Double(nameof(HedgingOptions.DelayPercentile)),
        ConfigurationKey.TimeSpan(nameof(HedgingOptions.MinDelay)),
        ConfigurationKey.TimeSpan(nameof(HedgingOptions.MaxDelay)),
        ConfigurationKey.Double(nameof(HedgingOptions.BudgetRatio)),
        ConfigurationKey.Int32(nameof(HedgingOptions.MinHedgesPerSecond)),
        ConfigurationKey.TimeSpan(nameof(HedgingOptions.Window)),
    ];

    private static readonly ConfigurationKey[] s_peakEwma =
    [
        ConfigurationKey.TimeSpan(nameof(PeakEwmaOptions.DecayTime)),
        ConfigurationKey.TimeSpan(nameof(PeakEwmaOptions.DefaultRtt)),
    ];

    /// <summary>The keys the binder binds, per options type (a test checks that every settable property is listed with its kind).</summary>
    internal static IReadOnlyDictionary<Type, IReadOnlyList<ConfigurationKey>> BoundKeys { get; } = new Dictionary<Type, IReadOnlyList<ConfigurationKey>>
    {
        [typeof(HealthCheckOptions)] = s_healthCheck,
        [typeof(OutlierDetectionOptions)] = s_outlierDetection,
        [typeof(SlowStartOptions)] = s_slowStart,
        [typeof(RetryBudgetOptions)] = s_retryBudget,
        [typeof(PeakEwmaOptions)] = s_peakEwma,
        [typeof(HedgingOptions)] = s_hedging,
    };

    /// <summary>Reads <paramref name="mesh"/> (the <c>Mesh</c> section or one shaped like it).</summary>
    /// <param name="mesh">The section.</param>
    /// <param name="options">The options to fill.</param>
    /// <param name="root">The configuration root the section belongs to, when known (see <see cref="ConfigurationReader.List"/>).</param>
    public static void Read(IConfiguration mesh, MeshOptions options, IConfigurationRoot? root)
    {
        var reader = new ConfigurationReader(options.ConfigurationErrors, root);
        options.SectionPath = ConfigurationReader.SectionPath(mesh, MeshOptions.SectionName);
        options.SectionFound |= mesh is not IConfigurationSection bound || bound.Exists();

        if (reader.String(mesh, nameof(MeshOptions.Zone)) is { } zone)
        {
            options.Zone = zone;
        }

        options.PassThroughUnknownHosts = reader.Boolean(mesh, nameof(MeshOptions.PassThroughUnknownHosts)) ?? options.PassThroughUnknownHosts;
        options.ReadServiceDiscoveryConfiguration = reader.Boolean(mesh, nameof(MeshOptions.ReadServiceDiscoveryConfiguration)) ?? options.ReadServiceDiscoveryConfiguration;
        options.RequireMutualTls = reader.Boolean(mesh, nameof(MeshOptions.RequireMutualTls)) ?? options.RequireMutualTls;
        options.MaxConcurrentHealthChecks = reader.Int32(mesh, nameof(MeshOptions.MaxConcurrentHealthChecks)) ?? options.MaxConcurrentHealthChecks;
        options.ConnectTimeout = reader.TimeSpan(mesh, nameof(MeshOptions.ConnectTimeout)) ?? options.ConnectTimeout;
        options.Http2Upgrade = reader.Boolean(mesh, nameof(MeshOptions.Http2Upgrade)) ?? options.Http2Upgrade;

        var identity = mesh.GetSection(nameof(MeshOptions.Identity));
        if (identity.Exists())
        {
            options.Identity.ReadFrom(identity);
            options.ConfigurationErrors.AddRange(options.Identity.ConfigurationErrors);
            options.Identity.ConfigurationErrors.Clear();
        }

        options.DiscoveryTimeout = reader.TimeSpan(mesh, nameof(MeshOptions.DiscoveryTimeout)) ?? options.DiscoveryTimeout;

        foreach (var section in mesh.GetSection(nameof(MeshOptions.Services)).GetChildren())
        {
            if (!options.Services.TryGetValue(section.Key, out var service))
            {
                service = new MeshServiceOptions();
                options.Services[section.Key] = service;
            }

            options.ServicePaths[section.Key] = section.Path;
            ReadService(section, service, reader);
        }
    }

    /// <summary>
    /// Reads Microsoft.Extensions.ServiceDiscovery's <c>Services:{name}:{endpointName}:{i}</c> entries (or one value per
    /// endpoint name), as MESD reads them: the <c>default</c>, <c>http</c> and <c>https</c> entries are the endpoints of
    /// service <c>{name}</c> (a logical <c>http://</c> URI prefers its http ones, <c>https+http://</c> its https ones); any
    /// other endpoint name (<c>grpc</c>, <c>dashboard</c>) is its own service <c>_{endpointName}.{name}</c>, addressed as
    /// MESD addresses it (<c>https://_grpc.catalog</c>).
    /// </summary>
    public static void ReadServiceDiscovery(IConfiguration root, MeshOptions options)
    {
        var reader = new ConfigurationReader(options.ConfigurationErrors, root as IConfigurationRoot);
        foreach (var serviceSection in root.GetSection("Services").GetChildren())
        {
            var service = new MeshServiceOptions { FromServiceDiscoveryConfiguration = true };
            var named = new SortedDictionary<string, MeshServiceOptions>(StringComparer.OrdinalIgnoreCase);
            foreach (var endpointGroup in serviceSection.GetChildren())
            {
                var key = endpointGroup.Key;
                var scheme = key.Equals("http", StringComparison.OrdinalIgnoreCase) ? "http"
                    : key.Equals("https", StringComparison.OrdinalIgnoreCase) ? "https"
                    : null;
                MeshServiceOptions target;
                if (scheme is not null || key.Equals("default", StringComparison.OrdinalIgnoreCase))
                {
                    target = service;
                }
                else
                {
                    // A named endpoint: "grpc" (MESD's key for https://_grpc.catalog), or written with its underscore.
                    var name = key.TrimStart('_');
                    if (!named.TryGetValue(name, out target!))
                    {
                        target = new MeshServiceOptions { FromServiceDiscoveryConfiguration = true };
                        named[name] = target;
                    }
                }

                foreach (var entry in reader.List(endpointGroup))
                {
                    if (entry.Value is not { Length: > 0 } value)
                    {
                        continue;
                    }

                    string address;
                    if (value.Contains("://", StringComparison.Ordinal))
                    {
                        address = value;
                    }
                    else if (scheme is not null)
                    {
                        address = $"{scheme}://{value}";
                    }
                    else
                    {
                        // host:port under "default" or a named endpoint: MESD would give it the request's scheme; an endpoint
                        // of the mesh needs its own, so such an entry is not used (write it with its scheme).
                        continue;
                    }

                    target.Endpoints.Add(new MeshEndpointOptions { Address = address, SourcePath = entry.Path, PlainAddress = true });
                }
            }

            if (service.Endpoints.Count > 0)
            {
                options.ServiceDiscoveryServices[serviceSection.Key] = service;
            }

            foreach (var (name, endpoints) in named)
            {
                if (endpoints.Endpoints.Count > 0)
                {
                    options.ServiceDiscoveryServices[$"_{name}.{serviceSection.Key}"] = endpoints;
                }
            }
        }
    }

    private static void ReadService(IConfigurationSection section, MeshServiceOptions service, ConfigurationReader reader)
    {
        if (reader.String(section, nameof(MeshServiceOptions.LoadBalancer)) is { } balancer)
        {
            // A built-in or a registered custom balancer: the names are checked by validation, which knows the registered ones.
            service.LoadBalancerName = balancer;
        }

        if (reader.JoinedList(section, nameof(MeshServiceOptions.Discovery)) is { Length: > 0 } discovery)
        {
            service.Discovery = discovery;
        }

        // For these strings an empty value clears a setting made earlier (in code or by an earlier section).
        if (section[nameof(MeshServiceOptions.ServerIdentity)] is not null)
        {
            service.ServerIdentity = reader.String(section, nameof(MeshServiceOptions.ServerIdentity));
        }

        if (section[nameof(MeshServiceOptions.HashHeader)] is not null)
        {
            service.HashHeader = reader.String(section, nameof(MeshServiceOptions.HashHeader));
        }

        service.AllowPlainHttp = reader.Boolean(section, nameof(MeshServiceOptions.AllowPlainHttp)) ?? service.AllowPlainHttp;
        service.PanicThreshold = reader.Int32(section, nameof(MeshServiceOptions.PanicThreshold)) ?? service.PanicThreshold;
        service.EndpointLabels = reader.Boolean(section.GetSection("Telemetry"), nameof(MeshServiceOptions.EndpointLabels)) ?? service.EndpointLabels;
        service.AttemptTimeout = reader.TimeSpan(section, nameof(MeshServiceOptions.AttemptTimeout)) ?? service.AttemptTimeout;
        service.DiscoveryTimeout = reader.TimeSpan(section, nameof(MeshServiceOptions.DiscoveryTimeout)) ?? service.DiscoveryTimeout;

        var endpoints = section.GetSection(nameof(MeshServiceOptions.Endpoints));
        if (ConfigurationReader.Value(section, nameof(MeshServiceOptions.Endpoints)) is not null || endpoints.GetChildren().Any())
        {
            // A configuration source that sets Endpoints replaces the whole list (also endpoints added in code earlier).
            service.Endpoints.Clear();
            foreach (var item in reader.List(endpoints))
            {
                service.Endpoints.Add(ReadEndpoint(item, reader));
            }
        }

        var health = section.GetSection(nameof(MeshServiceOptions.HealthCheck));
        reader.Bind(health, service.HealthCheck, s_healthCheck, static (checkedValues, options) => checkedValues.Bind(options));
        if (ConfigurationReader.IsBlank(health, nameof(HealthCheckOptions.Path)))
        {
            service.HealthCheck.Path = null;
        }

        var outlier = section.GetSection(nameof(MeshServiceOptions.OutlierDetection));
        reader.Bind(outlier, service.OutlierDetection, s_outlierDetection, static (checkedValues, options) => checkedValues.Bind(options));
        service.OutlierDetection.FailureKinds = reader.Flags<OutlierFailureKinds>(outlier, nameof(OutlierDetectionOptions.FailureKinds)) ?? service.OutlierDetection.FailureKinds;
        service.OutlierDetection.GrpcStatusCodes = ReadGrpcStatusCodes(outlier, reader) ?? service.OutlierDetection.GrpcStatusCodes;

        reader.Bind(section.GetSection(nameof(MeshServiceOptions.SlowStart)), service.SlowStart, s_slowStart, static (checkedValues, options) => checkedValues.Bind(options));
        reader.Bind(section.GetSection(nameof(MeshServiceOptions.RetryBudget)), service.RetryBudget, s_retryBudget, static (checkedValues, options) => checkedValues.Bind(options));
        reader.Bind(section.GetSection(nameof(MeshServiceOptions.PeakEwma)), service.PeakEwma, s_peakEwma, static (checkedValues, options) => checkedValues.Bind(options));
        reader.Bind(section.GetSection(nameof(MeshServiceOptions.Hedging)), service.Hedging, s_hedging, static (checkedValues, options) => checkedValues.Bind(options));

        var split = section.GetSection(nameof(MeshServiceOptions.TrafficSplit));
        if (split[nameof(TrafficSplitOptions.MetadataKey)] is not null)
        {
            service.TrafficSplit.MetadataKey = reader.String(split, nameof(TrafficSplitOptions.MetadataKey));
        }

        var weights = split.GetSection(nameof(TrafficSplitOptions.Weights));
        if (weights.Exists())
        {
            // A configuration source that sets Weights replaces the whole map.
            service.TrafficSplit.Weights.Clear();
            foreach (var weight in weights.GetChildren())
            {
                if (reader.Int32(weights, weight.Key) is { } value)
                {
                    service.TrafficSplit.Weights[weight.Key] = value;
                }
            }
        }
    }

    /// <summary><c>OutlierDetection:GrpcStatusCodes</c>: status names (<c>Unavailable</c> or gRPC's own <c>UNAVAILABLE</c>,
    /// <c>DeadlineExceeded</c> or <c>DEADLINE_EXCEEDED</c>) separated by <c>,</c>, <c>;</c> or <c>|</c>, or an array;
    /// <c>None</c> for none. Numbers are refused, like every enum value of the dialect.</summary>
    private static GrpcStatusCodes? ReadGrpcStatusCodes(IConfigurationSection outlier, ConfigurationReader reader)
    {
        var key = nameof(OutlierDetectionOptions.GrpcStatusCodes);
        var items = reader.List(outlier.GetSection(key), ConfigurationReader.FlagSeparators);
        if (items.Count == 0)
        {
            return null;
        }

        var codes = GrpcStatusCodes.None;
        var valid = true;
        foreach (var item in items)
        {
            if (item.Value is { } name && ConfigurationReader.TryEnum<GrpcStatusCodes>(name.Replace("_", "", StringComparison.Ordinal), out var code))
            {
                codes |= code;
            }
            else
            {
                reader.Errors.Add($"{ConfigurationReader.PathOf(outlier, key)}: '{item.Value ?? "(a section)"}' is not a gRPC status name; allowed values (comma-separated): " +
                    $"None, {string.Join(", ", Enum.GetNames<GrpcStatusCodes>().Where(n => n != nameof(GrpcStatusCodes.None)))} (or gRPC's spelling, for example UNAVAILABLE, DEADLINE_EXCEEDED).");
                valid = false;
            }
        }

        return valid ? codes : null;
    }

    private static MeshEndpointOptions ReadEndpoint(ListItem item, ConfigurationReader reader)
    {
        if (item.Section is not { } entry || item.Value is not null)
        {
            return new MeshEndpointOptions { Address = item.Value ?? "", SourcePath = item.Path, PlainAddress = true };
        }

        var endpoint = new MeshEndpointOptions
        {
            Address = reader.String(entry, nameof(MeshEndpointOptions.Address)) ?? "",
            Zone = reader.String(entry, nameof(MeshEndpointOptions.Zone)),
            SourcePath = item.Path,
        };
        endpoint.Weight = reader.Int32(entry, nameof(MeshEndpointOptions.Weight)) ?? endpoint.Weight;
        foreach (var metadata in entry.GetSection(nameof(MeshEndpointOptions.Metadata)).GetChildren())
        {
            if (metadata.Value is { } value)
            {
                endpoint.Metadata[metadata.Key] = value;
            }
        }

        return endpoint;
    }
}
