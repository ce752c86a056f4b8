using Mesh.Discovery;
using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.LoadBalancing.Internal;
using Mesh.Resilience.Internal;

namespace Mesh.Services.Internal;

/// <summary>
/// One logical service at run time: a small coordinator. It owns the service lock and publishes the
/// <see cref="ServiceSnapshot"/> the request path reads; the work is done by its parts, each testable alone:
/// <see cref="ServiceSettings"/> (compiled settings), <see cref="EndpointSet"/> (sources merged, endpoint state kept),
/// <see cref="OutlierDetector"/> (passive health), <see cref="EjectionScheduler"/> (when ejections end),
/// <see cref="ActiveHealthTracker"/> (active check results), <see cref="ServiceSnapshotBuilder"/> (routable → panic →
/// zones → slow start → split → picker), <see cref="EndpointSelector"/> (tried endpoints and probes) and
/// <see cref="ServiceEvents"/> (logs, metrics, events).
/// <para>Threading: every state change takes the lock, rebuilds the snapshot and publishes it with one volatile write;
/// the per-request path (<see cref="Pick"/>, <see cref="OnOutcome"/>) takes no lock unless an outcome changes health.
/// Health events are delivered after the lock is released.</para>
/// </summary>
internal sealed class ServiceRuntime : IDisposable
{
    private readonly Lock _lock = new();
    private readonly MeshEnvironment _env;
    private readonly EndpointSet _set;
    private readonly EjectionScheduler _ejections;
    private volatile ServiceSettings _settings;
    private volatile ServiceSnapshot _snapshot = ServiceSnapshot.Unavailable("no endpoints have been published yet");
    private RetryBudget _budget;
    private RetryBudget _hedgeBudget;
    private LatencyHistogram _latency;
    private TaskCompletionSource? _firstSet;
    private ServiceSettings? _balancerFailureLoggedFor;
    private bool _disposed;

    public ServiceRuntime(string name, MeshEnvironment env, MeshServiceOptions options, string? zone = null, bool requireMutualTls = false, TimeSpan? discoveryTimeout = null)
    {
        Name = name;
        _env = env;
        Events = new ServiceEvents(name, env);
        _set = new EndpointSet(this, Events);
        _ejections = new EjectionScheduler(env.Time, OnEjectionsDue);
        _settings = ServiceSettings.Compile(name, options, new MeshDefaults(zone, requireMutualTls, discoveryTimeout), env.Frequency, balancers: env.Balancers);
        _budget = NewBudget(_settings);
        _hedgeBudget = NewHedgeBudget(_settings);
        _latency = new LatencyHistogram(_settings.Hedging.Window, env.Frequency);
    }

    public string Name { get; }

    /// <summary>The settings in effect (swapped atomically on reload).</summary>
    public ServiceSettings Settings => _settings;

    public MeshServiceOptions Options => _settings.Options;

    public RetryBudget Budget => Volatile.Read(ref _budget);

    /// <summary>The budget hedged attempts are charged to (<c>Hedging:BudgetRatio</c>).</summary>
    public RetryBudget HedgeBudget => Volatile.Read(ref _hedgeBudget);

    /// <summary>Recent attempt latencies (for the hedging delay and the tail threshold).</summary>
    public LatencyHistogram Latency => Volatile.Read(ref _latency);


    public ServiceEvents Events { get; }

    public MeshEnvironment Environment => _env;

    public EndpointState[] Endpoints => _set.States;

    public ServiceSnapshot Snapshot => _snapshot;

    public string? DiscoveryProblem
    {
        get
        {
            lock (_lock)
            {
                return _set.Problems;
            }
        }
    }

    public long Now() => _env.Time.GetTimestamp();

    // ------------------------------------------------------------------ configuration and endpoint sets

    /// <summary>Applies (re)loaded options; endpoint states that stay keep their statistics and health.</summary>
    public void Configure(MeshServiceOptions options, string? zone = null, bool requireMutualTls = false, TimeSpan? discoveryTimeout = null) =>
        Configure(options, new MeshDefaults(zone, requireMutualTls, discoveryTimeout));

    /// <summary>Applies (re)loaded options with the mesh-wide settings they inherit.</summary>
    public void Configure(MeshServiceOptions options, in MeshDefaults mesh)
    {
        var defaults = mesh;
        lock (_lock)
        {
            var previous = _settings;
            var settings = ServiceSettings.Compile(Name, options, defaults, _env.Frequency, previous, _env.Balancers);
            _settings = settings;
            if (settings.RetryBudget != previous.RetryBudget)
            {
                Volatile.Write(ref _budget, NewBudget(settings)); // only a changed budget starts afresh
            }

            if (settings.Hedging != previous.Hedging)
            {
                Volatile.Write(ref _hedgeBudget, NewHedgeBudget(settings));
                if (settings.Hedging.Window != previous.Hedging.Window)
                {
                    Volatile.Write(ref _latency, new LatencyHistogram(settings.Hedging.Window, _env.Frequency));
                }
            }

            if (settings.UsesConfiguration)
            {
                _set.SetSource(MeshServiceOptions.ConfigurationDiscoveryName, settings.ConfiguredEndpoints);
            }

            _set.RetainSources(settings.DiscoverySources);
            MergeLocked(MeshServiceOptions.ConfigurationDiscoveryName);
        }

        Events.Flush();
    }

    /// <summary>Replaces one discovery source's endpoint set and swaps the merged set in atomically.</summary>
    public void SetSource(string source, IReadOnlyList<MeshEndpoint> endpoints)
    {
        var copy = endpoints.ToArray();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var recoveredFrom = _set.SetSource(source, copy);
            MergeLocked(source);
            Events.SourceUpdated(source);
            if (recoveredFrom > 0)
            {
                Events.SourceRecovered(source, recoveredFrom, copy.Length);
            }
        }

        Events.Flush();
    }

    /// <summary>Records that a source failed; its last set stays in use.</summary>
    public void ReportSourceFailure(string source, Exception error)
    {
        (int FailuresInARow, int LastCount) failure;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            failure = _set.SetProblem(source, error.Message);
            if (_set.States.Length == 0)
            {
                PublishLocked(Now()); // so that "no endpoints" names the discovery failure
            }
        }

        Events.SourceFailed(error, source, failure.FailuresInARow, failure.LastCount);
    }

    private void MergeLocked(string changedSource)
    {
        var now = Now();
        var change = _set.Merge(changedSource, _settings, _env.HasIdentity, now);
        PublishLocked(now);
        _ejections.Reschedule(_set.States, now);
        if (change.Added > 0 || change.Removed > 0)
        {
            Events.EndpointsUpdated(changedSource, change.Count, change.Added, change.Removed);
        }
    }

    // ------------------------------------------------------------------ the request path

    /// <summary>
    /// Picks an endpoint for one attempt, skipping endpoints this request already tried and probing endpoints whose
    /// single probe is taken. Allocates nothing.
    /// </summary>
    /// <exception cref="MeshNoEndpointsException">No endpoint can take the request.</exception>
    public EndpointState Pick(in PickContext context, TriedEndpoints? tried, out bool isProbe, SchemePreference scheme = SchemePreference.Any)
    {
        var snapshot = _snapshot;
        if (context.Now >= snapshot.RefreshAt)
        {
            snapshot = TryRefresh(context.Now);
        }

        snapshot = snapshot.For(scheme);

        var picker = snapshot.Picker ?? throw new MeshNoEndpointsException(Name, snapshot.UnavailableReason ?? "no endpoints");
        return EndpointSelector.Select(picker, snapshot.Fallback, context, tried, out isProbe);
    }

    private ServiceSnapshot TryRefresh(long now)
    {
        // Slow-start weights are due for a refresh: one caller rebuilds, the others keep the current snapshot.
        if (_lock.TryEnter())
        {
            try
            {
                if (now >= _snapshot.RefreshAt)
                {
                    PublishLocked(now);
                }
            }
            finally
            {
                _lock.Exit();
            }
        }

        return _snapshot;
    }

    /// <summary>Feeds one attempt's outcome into outlier detection (the latency went to the endpoint already).</summary>
    public void OnOutcome(EndpointState endpoint, RequestOutcome outcome, bool isProbe, string? failure)
    {
        var settings = _settings;
        var signal = OutlierDetector.Observe(endpoint, outcome, isProbe, failure, Now(), settings.Outlier);
        if (signal.Kind != OutlierSignalKind.None)
        {
            lock (_lock)
            {
                if (!_disposed)
                {
                    ApplyLocked(endpoint, signal, settings);
                }
            }

            Events.Flush();
        }

        if (isProbe)
        {
            endpoint.ReleaseProbe();
        }
    }

    private void ApplyLocked(EndpointState endpoint, in OutlierSignal signal, ServiceSettings settings)
    {
        var now = Now();
        var previous = EndpointHealth.Of(endpoint, now, settings.SlowStart);
        var decision = OutlierDetector.Decide(endpoint, signal, _set.States, now, settings.Outlier, settings.SlowStart, _env.Frequency);
        switch (decision.Action)
        {
            case OutlierAction.Ejected:
                PublishLocked(now);
                _ejections.Reschedule(_set.States, now);
                Events.Ejected(endpoint, previous, decision);
                break;
            case OutlierAction.Limited:
                Events.EjectionLimited(endpoint, decision, settings.Outlier.MaxEjectionPercent);
                break;
            case OutlierAction.Returned:
                PublishLocked(now);
                Events.Returned(endpoint, previous, EndpointHealth.Of(endpoint, now, settings.SlowStart), decision.Reason!.Text);
                break;
        }
    }

    private void OnEjectionsDue()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var now = Now();
            var changed = false;
            foreach (var e in _set.States)
            {
                if (OutlierDetector.TryBeginProbing(e, now))
                {
                    changed = true;
                    Events.Probing(e);
                }
            }

            if (changed)
            {
                PublishLocked(now);
            }

            _ejections.Reschedule(_set.States, now);
        }

        Events.Flush();
    }

    // ------------------------------------------------------------------ active health checks

    /// <summary>Records one active check result and applies the thresholds.</summary>
    public void OnHealthCheck(EndpointState endpoint, bool healthy, string detail)
    {
        lock (_lock)
        {
            if (_disposed || Array.IndexOf(_set.States, endpoint) < 0)
            {
                return;
            }

            var settings = _settings;
            var now = Now();
            var previous = EndpointHealth.Of(endpoint, now, settings.SlowStart);
            if (!healthy)
            {
                Events.HealthCheckFailed(endpoint, detail);
            }

            switch (ActiveHealthTracker.Record(endpoint, healthy, detail, settings.Options.HealthCheck, now, settings.SlowStart))
            {
                case ActiveHealthChange.BecameUnhealthy:
                    PublishLocked(now);
                    Events.Unhealthy(endpoint, previous, EndpointHealth.Of(endpoint, now, settings.SlowStart));
                    break;
                case ActiveHealthChange.BecameHealthy:
                    PublishLocked(now);
                    Events.Returned(endpoint, previous, EndpointHealth.Of(endpoint, now, settings.SlowStart),
                        $"passed {endpoint.Checks.Successes} health check(s): {detail}");
                    break;
            }
        }

        Events.Flush();
    }

    /// <summary>Forgets active-check results (checks were turned off): endpoints are no longer held back by them.</summary>
    public void ResetActiveHealth()
    {
        lock (_lock)
        {
            var now = Now();
            var settings = _settings;
            var states = _set.States;
            var before = states.Select(e => EndpointHealth.Of(e, now, settings.SlowStart)).ToArray();
            if (ActiveHealthTracker.Reset(states))
            {
                PublishLocked(now);
                for (var i = 0; i < states.Length; i++)
                {
                    if (before[i] == MeshEndpointHealth.Unhealthy)
                    {
                        Events.HealthChecksReleased(states[i], before[i], EndpointHealth.Of(states[i], now, settings.SlowStart));
                    }
                }
            }
        }

        Events.Flush();
    }

    // ------------------------------------------------------------------ snapshot

    private void PublishLocked(long now)
    {
        var settings = _settings;
        var states = _set.States;
        foreach (var e in states)
        {
            if (e.SlowStartBegin != 0 && SlowStart.Factor(e, now, settings.SlowStart) >= 1.0)
            {
                e.SlowStartBegin = 0; // the ramp is over (a later, longer window must not resume it)
            }
        }

        var wasPanic = _snapshot.Panic;
        var snapshot = ServiceSnapshotBuilder.Build(states, settings, now, _set.Problems);
        var awaiting = !_disposed && snapshot.Picker is null && states.Length == 0 && AwaitedProvidersLocked().Any();
        if (awaiting)
        {
            _firstSet ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            snapshot = snapshot.Awaiting(_firstSet.Task);
        }

        _snapshot = snapshot;
        if (snapshot.BalancerFailure is { } failure && !ReferenceEquals(_balancerFailureLoggedFor, settings))
        {
            _balancerFailureLoggedFor = settings; // once per configuration, not on every rebuild
            LoadBalancingLog.BalancerFailed(_env.LoadBalancingLogger, failure, Name, settings.BalancerName);
        }

        if (!awaiting && _firstSet is { } arrived)
        {
            _firstSet = null;
            arrived.TrySetResult(); // after the new snapshot is published: waiters resume and pick from it
        }

        if (snapshot.Panic != wasPanic && snapshot.Picker is not null)
        {
            Events.PanicChanged(snapshot, settings.PanicThreshold);
        }
    }

    private IEnumerable<string> AwaitedProvidersLocked() => _settings.DiscoveryProviders.Where(p => !_set.HasPublished(p));

    /// <summary>
    /// Waits (asynchronously) for the service's first endpoint set while discovery providers are still resolving it:
    /// until a set arrives, the caller cancels, or <c>DiscoveryTimeout</c> passes (then the error names the providers
    /// and their last problem). Like Microsoft.Extensions.ServiceDiscovery's endpoint watcher, so that requests sent
    /// right after start-up do not fail.
    /// </summary>
    public async Task WaitForFirstSetAsync(Task firstSet, CancellationToken cancellationToken)
    {
        var timeout = _settings.DiscoveryTimeout;
        try
        {
            await firstSet.WaitAsync(timeout, _env.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            string providers, problems;
            lock (_lock)
            {
                providers = string.Join(", ", AwaitedProvidersLocked());
                problems = _set.Problems ?? "none reported yet";
            }

            throw new MeshNoEndpointsException(Name, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"the first endpoint set from {providers} did not arrive within {timeout} (DiscoveryTimeout: Mesh:Services:{Name}:DiscoveryTimeout, or Mesh:DiscoveryTimeout for all services); last problem: {problems}"));
        }
    }

    // ------------------------------------------------------------------ observation

    /// <summary>The public health of <paramref name="endpoint"/> at <paramref name="now"/> (reads only).</summary>
    public MeshEndpointHealth PublicHealth(EndpointState endpoint, long now) => EndpointHealth.Of(endpoint, now, _settings.SlowStart);

    /// <summary>A public snapshot for <see cref="MeshMonitor"/>.</summary>
    public MeshServiceSnapshot CreateSnapshot()
    {
        var now = Now();
        var wall = _env.Time.GetUtcNow();
        var settings = _settings;
        var list = new List<MeshEndpointSnapshot>();
        foreach (var e in Endpoints)
        {
            var health = EndpointHealth.Of(e, now, settings.SlowStart);
            DateTimeOffset? until = health == MeshEndpointHealth.Ejected ? wall + _env.Span(Math.Max(e.Outlier.EjectedUntil - now, 0)) : null;
            TimeSpan? rtt = e.IsMeasured ? _env.Span(e.RttEstimate(now, settings.Picker.DecayTicks)) : null;
            var reason = e.Reason?.Text ?? (health == MeshEndpointHealth.SlowStart ? "ramping up after joining or returning" : null);
            list.Add(new MeshEndpointSnapshot(e.Endpoint, health, reason, e.InFlight, rtt, e.Requests, e.Failures,
                SlowStart.Factor(e, now, settings.SlowStart), until, e.LateShare));
        }

        string? problem;
        MeshDiscoverySourceSnapshot[] sources;
        lock (_lock)
        {
            problem = _set.Problems;
            sources = _set.DescribeSources(settings.DiscoverySources);
        }

        return new MeshServiceSnapshot(Name, settings.LoadBalancer, settings.BalancerName, _snapshot.Panic, list, problem, sources);
    }

    /// <summary>Where one discovery source of this service publishes.</summary>
    public IMeshEndpointSink CreateSink(string source) => new SourceSink(this, source);

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _ejections.Dispose();
            _firstSet?.TrySetResult(); // waiting requests go on and find no endpoints
            _firstSet = null;
        }
    }

    private RetryBudget NewBudget(ServiceSettings settings) => new(settings.Options.RetryBudget, (long)_env.Frequency);

    private RetryBudget NewHedgeBudget(ServiceSettings settings) =>
        new(settings.Hedging.BudgetRatio, settings.Hedging.MinHedgesPerSecond, settings.Hedging.Window, (long)_env.Frequency);

    /// <summary>How long a hedging handler should wait before sending a hedge of a request to this service: the
    /// <c>Hedging:DelayPercentile</c>th percentile of recent attempts (raised to keep within half the hedge budget, see
    /// <see cref="HedgingSettings.EffectivePercentile"/>), within <c>MinDelay</c> and <c>MaxDelay</c>
    /// (<c>MaxDelay</c> until 20 attempts were measured); <see cref="Timeout.InfiniteTimeSpan"/> (hedge only after a
    /// failure) when the hedge budget is spent.</summary>
    public TimeSpan HedgingDelay()
    {
        var hedging = _settings.Hedging;
        var now = Now();
        if (!HedgeBudget.CanRetry(now))
        {
            _env.Metrics.RecordHedge(Name, sent: false);
            return Timeout.InfiniteTimeSpan;
        }

        var delay = HedgingPercentile(hedging, now) ?? hedging.MaxDelay;
        return delay < hedging.MinDelay ? hedging.MinDelay : delay > hedging.MaxDelay ? hedging.MaxDelay : delay;
    }

    /// <summary>The percentile of recent attempts the hedging delay is taken at, null while fewer than 20 were measured.
    /// Read from the histogram (two generations of 216 counters that every attempt writes to) at most every
    /// <see cref="HedgingPercentileRefresh"/>, not on every request: a delay 10 ms old is as good over a 10 s window.</summary>
    private TimeSpan? HedgingPercentile(HedgingSettings hedging, long now)
    {
        var cached = Volatile.Read(ref _hedgingPercentile);
        if (cached is not null && now < cached.Due && cached.Percentile == hedging.EffectivePercentile)
        {
            return cached.Value;
        }

        if (!Latency.TryGetPercentile(hedging.EffectivePercentile, now, minSamples: 20, out var value))
        {
            return null;
        }

        Volatile.Write(ref _hedgingPercentile, new CachedPercentile(hedging.EffectivePercentile, value, now + (long)(_env.Frequency * HedgingPercentileRefresh.TotalSeconds)));
        return value;
    }

    /// <summary>How long a hedging delay read from the histogram is used.</summary>
    internal static readonly TimeSpan HedgingPercentileRefresh = TimeSpan.FromMilliseconds(10);

    private CachedPercentile? _hedgingPercentile;

    /// <summary>A percentile read from the histogram, until <paramref name="Due"/>.</summary>
    private sealed record CachedPercentile(double Percentile, TimeSpan Value, long Due);

    private sealed class SourceSink(ServiceRuntime service, string source) : IMeshEndpointSink
    {
        public void Publish(IReadOnlyList<MeshEndpoint> endpoints) => service.SetSource(source, endpoints);

        public void ReportFailure(Exception error) => service.ReportSourceFailure(source, error);
    }
}
