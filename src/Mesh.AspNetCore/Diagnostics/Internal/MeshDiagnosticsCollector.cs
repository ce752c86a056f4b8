using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Mesh.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Diagnostics.Internal;

/// <summary>
/// Gathers what the diagnostics endpoints show, off the request path of the mesh:
/// <list type="bullet">
/// <item>per service, attempts, errors and their duration percentiles over the last minute, from the mesh's own
/// <c>mesh.client.request.duration</c> histogram through a <see cref="MeterListener"/> (the mesh records it anyway for
/// OpenTelemetry; the listener's callback takes no lock and allocates nothing);</item>
/// <item>per endpoint, its share of the traffic and its errors, from the request and failure counters of
/// <see cref="MeshMonitor"/> snapshots taken once a second;</item>
/// <item>a timeline of health events: ejections, probes, returns and active-check failures from
/// <see cref="MeshMonitor.EndpointHealthChanged"/>, panic mode and discovery failures from the differences between
/// successive snapshots.</item>
/// </list>
/// One collector per mesh (per <see cref="MeshMonitor"/>), started when the endpoints are mapped, stopped when the host
/// stops or the app's <c>Mesh</c> meter is disposed (with the app's service provider), whichever comes first.
/// </summary>
internal sealed partial class MeshDiagnosticsCollector : IDisposable
{
    /// <summary>The logger category.</summary>
    public const string LoggerCategory = "Mesh.Diagnostics";

    private static readonly ConditionalWeakTable<MeshMonitor, MeshDiagnosticsCollector> s_byMonitor = new();
    private static readonly TimeSpan s_sampleInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly MeshMonitor _monitor;
    private readonly TimeProvider _time;
    private readonly long _frequency;
    private readonly long _firstSecond;
    private readonly IMeshIdentitySource? _identity;
    private readonly IMeterFactory? _meterFactory;
    private readonly ILogger _logger;
    private readonly int _eventCapacity;
    private readonly ConcurrentDictionary<string, ServiceTrafficWindow> _windows = new(StringComparer.Ordinal);
    private readonly Queue<DiagnosticsEvent> _events = new();
    private readonly Dictionary<(string Service, string Endpoint), int> _ejections = [];
    private readonly Dictionary<(string Service, string Endpoint), EndpointHistory> _history = [];
    private readonly Dictionary<string, ServiceMemory> _memory = new(StringComparer.Ordinal);
    private readonly MeterListener _listener;
    private readonly ITimer _timer;
    private long _nextEventId;
    private int _sampling;
    private bool _disposed;

    private MeshDiagnosticsCollector(MeshMonitor monitor, TimeProvider time, IMeshIdentitySource? identity, IMeterFactory? meterFactory,
        ILoggerFactory? loggerFactory, int eventCapacity)
    {
        _monitor = monitor;
        _time = time;
        _frequency = time.TimestampFrequency;
        _firstSecond = Second(time.GetTimestamp());
        _identity = identity;
        _meterFactory = meterFactory;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(LoggerCategory);
        _eventCapacity = eventCapacity;
        _monitor.EndpointHealthChanged += OnHealthChanged;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == DurationInstrument && IsMeshMeter(instrument.Meter))
                {
                    listener.EnableMeasurementEvents(instrument, this);
                }
            },

            // The app's meter is disposed with its service provider: the collector goes with it, even when the host was
            // disposed without being stopped.
            MeasurementsCompleted = static (_, state) => (state as MeshDiagnosticsCollector)?.Dispose(),
        };
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((MeshDiagnosticsCollector)state!).OnDuration(value, tags));
        _listener.Start();
        Sample();
        _timer = time.CreateTimer(static state => ((MeshDiagnosticsCollector)state!).Sample(), this, s_sampleInterval, s_sampleInterval);
    }

    /// <summary>The mesh's request-duration histogram.</summary>
    internal const string DurationInstrument = "mesh.client.request.duration";

    /// <summary>The collector of the app's mesh: created (and tied to the host's lifetime) on the first call.</summary>
    public static MeshDiagnosticsCollector For(IServiceProvider services, MeshDiagnosticsOptions options)
    {
        var monitor = services.GetRequiredService<MeshMonitor>();
        lock (s_byMonitor)
        {
            if (s_byMonitor.TryGetValue(monitor, out var existing) && !existing._disposed)
            {
                return existing;
            }

            var collector = new MeshDiagnosticsCollector(monitor, services.GetService<TimeProvider>() ?? TimeProvider.System,
                services.GetService<IMeshIdentitySource>(), services.GetService<IMeterFactory>(), services.GetService<ILoggerFactory>(), options.EventCapacity);
            s_byMonitor.AddOrUpdate(monitor, collector);
            services.GetService<IHostApplicationLifetime>()?.ApplicationStopped.Register(static c => ((MeshDiagnosticsCollector)c!).Dispose(), collector);
            return collector;
        }
    }

    /// <summary>Captures everything a document shows. The mesh's snapshot is taken first (the mesh's locks, briefly);
    /// this collector's lock is held only to copy its own small tables.</summary>
    public DiagnosticsState Capture()
    {
        var services = _monitor.GetSnapshot();
        var now = _time.GetTimestamp();
        var wall = _time.GetUtcNow();
        var second = Second(now);
        var traffic = new Dictionary<string, TrafficSummary>(StringComparer.Ordinal);
        foreach (var service in services)
        {
            if (_windows.TryGetValue(service.Name, out var window))
            {
                traffic[service.Name] = window.Summarize(second);
            }
        }

        var endpoints = new Dictionary<(string, string), EndpointTraffic>();
        Dictionary<(string, string), int> ejections;
        DiagnosticsEvent[] events;
        lock (_lock)
        {
            foreach (var service in services)
            {
                foreach (var endpoint in service.Endpoints)
                {
                    var key = (service.Name, endpoint.Endpoint.Key);
                    if (_history.TryGetValue(key, out var history) && history.Oldest(now - (ServiceTrafficWindow.Length * _frequency)) is { } oldest &&
                        endpoint.Requests >= oldest.Requests)
                    {
                        endpoints[key] = new EndpointTraffic(endpoint.Requests - oldest.Requests, Math.Max(0, endpoint.Failures - oldest.Failures),
                            (double)(now - oldest.Timestamp) / _frequency);
                    }
                }
            }

            ejections = new Dictionary<(string, string), int>(_ejections);
            events = [.. _events];
        }

        return new DiagnosticsState
        {
            GeneratedAt = wall,
            Services = services,
            ServiceTraffic = traffic,
            EndpointTraffic = endpoints,
            Ejections = ejections,
            Identity = _identity?.Current,
            Events = events,
        };
    }

    private long Second(long timestamp) => timestamp / _frequency;

    private bool IsMeshMeter(Meter meter) =>
        meter.Name == MeshTelemetry.Name && (_meterFactory is null ? meter.Scope is null : ReferenceEquals(meter.Scope, _meterFactory));

    private void OnDuration(double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? service = null;
        var error = false;
        foreach (var tag in tags)
        {
            if (tag.Key == MeshTelemetry.Attributes.Service)
            {
                service = tag.Value as string;
            }
            else if (tag.Key == MeshTelemetry.Attributes.Outcome)
            {
                error = tag.Value is string outcome && outcome != "success" && outcome != "cancelled";
            }
        }

        if (service is null)
        {
            return;
        }

        var window = _windows.GetOrAdd(service, static (_, first) => new ServiceTrafficWindow(first), _firstSecond);
        window.Record(Second(_time.GetTimestamp()), seconds, error);
    }

    private void OnHealthChanged(object? sender, MeshEndpointHealthChangedEventArgs change)
    {
        var kind = DiagnosticsEventKinds.Of(change.Current);
        var wall = _time.GetUtcNow();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            if (kind == DiagnosticsEventKinds.Ejected)
            {
                var key = (change.Service, change.Endpoint.Key);
                _ejections[key] = _ejections.GetValueOrDefault(key) + 1;
            }

            AddEventLocked(wall, kind, change.Service, change.Endpoint.Key, null, change.Previous, change.Current, change.Reason);
        }
    }

    private void AddEventLocked(DateTimeOffset time, string kind, string service, string? endpoint, string? source,
        MeshEndpointHealth? previous, MeshEndpointHealth? state, string? reason)
    {
        _events.Enqueue(new DiagnosticsEvent(++_nextEventId, time, kind, service, endpoint, source, previous, state, reason));
        while (_events.Count > _eventCapacity)
        {
            _events.Dequeue();
        }
    }

    /// <summary>Once a second: remembers each endpoint's counters and turns changes of panic mode and of discovery
    /// problems into timeline events.</summary>
    private void Sample()
    {
        if (Interlocked.Exchange(ref _sampling, 1) == 1)
        {
            return; // the previous sample is still running
        }

        try
        {
            var services = _monitor.GetSnapshot();
            var now = _time.GetTimestamp();
            var wall = _time.GetUtcNow();
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }

                var seenServices = new HashSet<string>(StringComparer.Ordinal);
                var seenEndpoints = new HashSet<(string, string)>();
                foreach (var service in services)
                {
                    seenServices.Add(service.Name);
                    CompareLocked(service, wall);
                    foreach (var endpoint in service.Endpoints)
                    {
                        var key = (service.Name, endpoint.Endpoint.Key);
                        seenEndpoints.Add(key);
                        if (!_history.TryGetValue(key, out var history))
                        {
                            _history[key] = history = new EndpointHistory(ServiceTrafficWindow.Length + 1);
                        }

                        history.Add(new CounterSample(now, endpoint.Requests, endpoint.Failures));
                    }
                }

                foreach (var gone in _history.Keys.Where(k => !seenEndpoints.Contains(k)).ToList())
                {
                    _history.Remove(gone);
                }

                foreach (var gone in _memory.Keys.Where(s => !seenServices.Contains(s)).ToList())
                {
                    _memory.Remove(gone);
                    _windows.TryRemove(gone, out _);
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.SamplingFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref _sampling, 0);
        }
    }

    private void CompareLocked(MeshServiceSnapshot service, DateTimeOffset wall)
    {
        if (!_memory.TryGetValue(service.Name, out var memory))
        {
            _memory[service.Name] = memory = new ServiceMemory();
        }

        if (service.PanicMode != memory.Panic)
        {
            memory.Panic = service.PanicMode;
            AddEventLocked(wall, service.PanicMode ? DiagnosticsEventKinds.PanicStarted : DiagnosticsEventKinds.PanicEnded, service.Name, null, null, null, null,
                string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{service.AvailableCount} of {service.Endpoints.Count} endpoints available{(service.PanicMode ? "; balancing over all of them" : "")}"));
        }

        foreach (var source in service.DiscoverySources)
        {
            var before = memory.Problems.GetValueOrDefault(source.Name);
            if (source.Problem is { } problem && problem != before)
            {
                memory.Problems[source.Name] = problem;
                AddEventLocked(wall, DiagnosticsEventKinds.DiscoveryFailed, service.Name, null, source.Name, null, null, problem);
            }
            else if (source.Problem is null && before is not null)
            {
                memory.Problems.Remove(source.Name);
                AddEventLocked(wall, DiagnosticsEventKinds.DiscoveryRecovered, service.Name, null, source.Name, null, null,
                    source.EndpointCount is { } count ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"publishes {count} endpoints") : "recovered");
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _monitor.EndpointHealthChanged -= OnHealthChanged;
        _timer.Dispose();
        _listener.Dispose();
    }

    /// <summary>What the sampler remembers of a service between samples.</summary>
    private sealed class ServiceMemory
    {
        public bool Panic;
        public readonly Dictionary<string, string> Problems = new(StringComparer.OrdinalIgnoreCase);
    }

    private readonly record struct CounterSample(long Timestamp, long Requests, long Failures);

    /// <summary>The last samples of one endpoint's counters (a ring); restarts when the counters went down (the
    /// endpoint left and came back as a new one).</summary>
    private sealed class EndpointHistory(int capacity)
    {
        private readonly CounterSample[] _samples = new CounterSample[capacity];
        private int _next;
        private int _count;

        public void Add(CounterSample sample)
        {
            if (_count > 0 && sample.Requests < _samples[(_next - 1 + _samples.Length) % _samples.Length].Requests)
            {
                _count = 0;
            }

            _samples[_next] = sample;
            _next = (_next + 1) % _samples.Length;
            _count = Math.Min(_count + 1, _samples.Length);
        }

        /// <summary>The sample that starts the window: the first one taken at or after <paramref name="notBefore"/>
        /// (else the newest); null without samples.</summary>
        public CounterSample? Oldest(long notBefore)
        {
            CounterSample? oldest = null;
            for (var i = _count; i >= 1; i--)
            {
                var sample = _samples[(_next - i + _samples.Length) % _samples.Length];
                oldest = sample;
                if (sample.Timestamp >= notBefore)
                {
                    break;
                }
            }

            return oldest;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5041, EventName = "DiagnosticsSamplingFailed", Level = LogLevel.Warning,
            Message = "Mesh diagnostics: taking a snapshot of the mesh failed; the page shows the last one")]
        public static partial void SamplingFailed(ILogger logger, Exception exception);
    }
}
