using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Mesh.Configuration.Internal;
using Mesh.Discovery;
using Mesh.Health.Internal;
using Mesh.Http.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Services.Internal;

/// <summary>Where the mesh's configuration section lives (for provider-specific keys of discovery sources).</summary>
internal sealed class MeshConfigurationLocation(IConfiguration? section)
{
    public IConfiguration? Section { get; } = section;
}

/// <summary>
/// All services of the mesh. Built from validated <see cref="MeshOptions"/>; follows configuration reloads (a reload
/// that does not validate is refused and logged, the last good configuration stays), starts and stops discovery
/// watches and active health checks, and disposes them when the host stops.
/// </summary>
internal sealed class MeshRegistry : IDisposable, IAsyncDisposable
{
    private static readonly IConfiguration s_emptyConfiguration = new ConfigurationBuilder().Build();
    private readonly Lock _applyLock = new();
    private readonly Dictionary<string, IMeshDiscoveryProvider> _providers;
    private readonly MeshTransport _transport;
    private readonly IConfiguration? _section;
    private readonly IDisposable? _reloadSubscription;
    private readonly Dictionary<(string Service, string Source), Watch> _watches = [];
    private readonly Dictionary<string, ActiveHealthChecker> _checkers = new(StringComparer.OrdinalIgnoreCase);
    private readonly CheckThrottle _checkConcurrency = new(16);
    private volatile FrozenDictionary<string, ServiceRuntime> _services = FrozenDictionary<string, ServiceRuntime>.Empty;
    private volatile bool _passThrough;
    private bool _disposed;

    public MeshRegistry(
        IOptionsMonitor<MeshOptions> options,
        IEnumerable<IMeshDiscoveryProvider> providers,
        MeshTransport transport,
        ILoggerFactory loggerFactory,
        TimeProvider? timeProvider = null,
        MeshConfigurationLocation? location = null,
        System.Diagnostics.Metrics.IMeterFactory? meterFactory = null,
        IEnumerable<MeshLoadBalancer>? balancers = null)
    {
        Environment = new MeshEnvironment(timeProvider ?? TimeProvider.System, loggerFactory, new Telemetry.Internal.MeshMetrics(meterFactory))
        {
            HasIdentity = transport.Identity is not null,
            Balancers = LoadBalancing.Internal.LoadBalancerCatalog.Create(balancers),
        };
        Logger = Environment.RegistryLogger;
        Environment.Metrics.Observe(() => _services.Values);
        if (transport.Identity is { } identity)
        {
            var time = timeProvider ?? TimeProvider.System;
            Environment.Metrics.ObserveCertificateExpiry(() =>
            [
                new System.Diagnostics.Metrics.Measurement<double>((identity.Current.Svid.NotAfter - time.GetUtcNow()).TotalSeconds,
                    new KeyValuePair<string, object?>(MeshTelemetry.Attributes.WorkloadSpiffeId, identity.Current.Id.ToString())),
            ]);
        }
        _providers = new Dictionary<string, IMeshDiscoveryProvider>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in providers)
        {
            _providers[provider.Name] = provider;
        }

        _transport = transport;
        _section = location?.Section;
        Apply(options.CurrentValue);
        _reloadSubscription = options.OnChange(o =>
        {
            try
            {
                Apply(o);
            }
            catch (Exception ex)
            {
                ConfigurationLog.ReloadRefused(Logger, ex.Message);
            }
        });
    }

    public ILogger Logger { get; }

    public MeshEnvironment Environment { get; }

    public bool PassThroughUnknownHosts => _passThrough;

    public IEnumerable<string> ServiceNames => _services.Keys;

    public IReadOnlyCollection<string> ProviderNames => _providers.Keys;

    /// <summary>Looks a service up by its lower-case name (URI hosts are lower-case already).</summary>
    public bool TryGetService(string name, [MaybeNullWhen(false)] out ServiceRuntime service) =>
        _services.TryGetValue(name, out service);

    /// <summary>The service named exactly <paramref name="name"/> (ordinal), found without making a string of it.</summary>
    public bool TryGetService(ReadOnlySpan<char> name, [MaybeNullWhen(false)] out ServiceRuntime service) =>
        _services.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out service);

    public IEnumerable<ServiceRuntime> Services => _services.Values;

    /// <summary>Applies options, validated by the options pipeline (<c>MeshOptionsValidation</c>): on start, and on each
    /// reload by <c>LastGoodOptionsMonitor</c>, which refuses a reload that does not validate and keeps the last good one.</summary>
    public void Apply(MeshOptions options)
    {
        var stale = new List<IAsyncDisposable>();
        lock (_applyLock)
        {
            if (_disposed)
            {
                return;
            }

            _passThrough = options.PassThroughUnknownHosts;
            _checkConcurrency.Resize(options.MaxConcurrentHealthChecks);

            var wanted = new Dictionary<string, MeshServiceOptions>(options.Services, StringComparer.OrdinalIgnoreCase);
            if (options.ReadServiceDiscoveryConfiguration)
            {
                foreach (var (name, service) in options.ServiceDiscoveryServices)
                {
                    wanted.TryAdd(name, service);
                }
            }

            var old = _services;
            var next = new Dictionary<string, ServiceRuntime>(StringComparer.Ordinal);
            foreach (var (configuredName, serviceOptions) in wanted)
            {
                var name = configuredName.ToLowerInvariant();
                if (old.TryGetValue(name, out var runtime))
                {
                    runtime.Configure(serviceOptions, MeshDefaults.From(options));
                }
                else
                {
                    runtime = new ServiceRuntime(name, Environment, serviceOptions, options.Zone, options.RequireMutualTls, options.DiscoveryTimeout);
                    runtime.Configure(serviceOptions, MeshDefaults.From(options));
                }

                next[name] = runtime;
                SyncWatchesLocked(runtime, serviceOptions, stale);
                SyncCheckerLocked(runtime, serviceOptions, stale);
            }

            foreach (var (name, runtime) in old)
            {
                if (!next.ContainsKey(name))
                {
                    RemoveServiceLocked(name, stale);
                    runtime.Dispose();
                }
            }

            _services = next.ToFrozenDictionary(StringComparer.Ordinal);
        }

        foreach (var disposable in stale)
        {
            _ = DisposeQuietlyAsync(disposable);
        }

        RegistryLog.ConfigurationApplied(Logger, _services.Count);
    }

    private void SyncWatchesLocked(ServiceRuntime runtime, MeshServiceOptions options, List<IAsyncDisposable> stale)
    {
        var section = _section?.GetSection($"Services:{runtime.Name}") ?? s_emptyConfiguration;
        var fingerprint = string.Join('\n', section.AsEnumerable().OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        var sources = MeshOptionsValidator.ParseDiscovery(options.Discovery)
            .Where(s => !s.Equals(MeshServiceOptions.ConfigurationDiscoveryName, StringComparison.OrdinalIgnoreCase))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

        foreach (var key in _watches.Keys.Where(k => k.Service == runtime.Name).ToList())
        {
            if (!sources.Contains(key.Source) || _watches[key].Fingerprint != fingerprint)
            {
                stale.Add(_watches[key].Handle);
                _watches.Remove(key);
            }
        }

        foreach (var source in sources)
        {
            if (_watches.ContainsKey((runtime.Name, source)))
            {
                continue;
            }

            var provider = _providers[source];
            var context = new MeshDiscoveryContext(runtime.Name, section, runtime.CreateSink(provider.Name));
            _watches[(runtime.Name, source)] = new Watch(provider.Watch(context), fingerprint);
        }
    }

    private void SyncCheckerLocked(ServiceRuntime runtime, MeshServiceOptions options, List<IAsyncDisposable> stale)
    {
        var hc = options.HealthCheck;
        if (_checkers.TryGetValue(runtime.Name, out var checker))
        {
            var same = hc.Enabled && checker.Options.Path == hc.Path && checker.Options.Protocol == hc.Protocol &&
                checker.Options.GrpcService == hc.GrpcService && checker.Options.Interval == hc.Interval && checker.Options.Timeout == hc.Timeout;
            if (same)
            {
                return;
            }

            stale.Add(checker);
            _checkers.Remove(runtime.Name);
            if (!hc.Enabled)
            {
                runtime.ResetActiveHealth();
            }
        }

        if (hc.Enabled)
        {
            _checkers[runtime.Name] = new ActiveHealthChecker(runtime, hc, _transport, _checkConcurrency, Environment.Time);
        }
    }

    private void RemoveServiceLocked(string name, List<IAsyncDisposable> stale)
    {
        foreach (var key in _watches.Keys.Where(k => k.Service.Equals(name, StringComparison.OrdinalIgnoreCase)).ToList())
        {
            stale.Add(_watches[key].Handle);
            _watches.Remove(key);
        }

        if (_checkers.Remove(name, out var checker))
        {
            stale.Add(checker);
        }
    }

    private async Task DisposeQuietlyAsync(IAsyncDisposable disposable)
    {
        try
        {
            await disposable.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            RegistryLog.StopFailed(Logger, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<IAsyncDisposable> all;
        lock (_applyLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            all = [.. _watches.Values.Select(w => w.Handle), .. _checkers.Values];
            _watches.Clear();
            _checkers.Clear();
        }

        _reloadSubscription?.Dispose();
        foreach (var disposable in all)
        {
            await DisposeQuietlyAsync(disposable).ConfigureAwait(false);
        }

        foreach (var service in _services.Values)
        {
            service.Dispose();
        }

        Environment.Metrics.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private sealed record Watch(IAsyncDisposable Handle, string Fingerprint);
}
