using Mesh.Configuration.Internal;
using Mesh.Discovery;
using Mesh.Endpoints;
using Mesh.Health.Internal;
using Mesh.LoadBalancing.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Internal;

/// <summary>How one attempt ended, as outlier detection sees it (values match <see cref="OutlierFailureKinds"/>).</summary>
internal enum RequestOutcome
{
    Success = 0,
    ConnectionFailure = 1,
    Timeout = 2,
    ServerError = 4,
    Cancellation = 8,
}

/// <summary>What the whole mesh shares: the clock, the logger and the health event.</summary>
internal sealed class MeshEnvironment(TimeProvider time, ILogger logger, Telemetry.Internal.MeshMetrics? metrics = null)
{
    public Telemetry.Internal.MeshMetrics Metrics { get; } = metrics ?? new Telemetry.Internal.MeshMetrics(null);

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;

    public double Frequency { get; } = time.TimestampFrequency;

    /// <summary>Whether the workload has an identity for mutual TLS (then plain-http endpoints are worth a warning).</summary>
    public bool HasIdentity { get; init; }

    public event Action<MeshEndpointHealthChangedEventArgs>? HealthChanged;

    public long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Frequency);

    public TimeSpan Span(double ticks) => TimeSpan.FromSeconds(ticks / Frequency);

    public void Raise(MeshEndpointHealthChangedEventArgs change)
    {
        try
        {
            HealthChanged?.Invoke(change);
        }
        catch (Exception ex)
        {
            MeshLog.EventHandlerFailed(Logger, ex);
        }
    }
}

/// <summary>An immutable view used by the pick path; rebuilt under the service lock when anything changes.</summary>
internal sealed class ServiceSnapshot(EndpointPicker? picker, bool panic, long refreshAt, string? unavailableReason)
{
    public EndpointPicker? Picker { get; } = picker;

    public bool Panic { get; } = panic;

    /// <summary>When slow-start weights must be recomputed (timestamp), or <see cref="long.MaxValue"/>.</summary>
    public long RefreshAt { get; } = refreshAt;

    public string? UnavailableReason { get; } = unavailableReason;
}

/// <summary>
/// One logical service at run time: its endpoint states, the picker over the routable ones, outlier detection,
/// slow start, panic mode, zone preference and the retry budget. Writes take <see cref="_lock"/> and publish a new
/// <see cref="ServiceSnapshot"/>; the per-request path reads the snapshot and touches only per-endpoint counters.
/// </summary>
internal sealed class ServiceRuntime : IDisposable
{
    private readonly Lock _lock = new();
    private readonly MeshEnvironment _env;
    private readonly Dictionary<string, IReadOnlyList<MeshEndpoint>> _sources = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _sourceProblems = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _refusedPlainHttp = new(StringComparer.Ordinal);
    private readonly HashSet<string> _warnedPlainHttp = new(StringComparer.Ordinal);
    private EndpointState[] _endpoints = [];
    private volatile ServiceSnapshot _snapshot = new(null, false, long.MaxValue, "no endpoints have been published yet");
    private MeshServiceOptions _options;
    private string? _zone;
    private PickerSettings _pickerSettings;
    private OutlierFailureKinds _failureKinds;
    private ITimer? _ejectionTimer;
    private RetryBudgetOptions? _budgetOptions;
    private bool _hadEndpoints;
    private bool _disposed;

    public ServiceRuntime(string name, MeshEnvironment env, MeshServiceOptions options, string? zone)
    {
        Name = name;
        _env = env;
        _options = options;
        _zone = zone;
        ApplySettings(options);
    }

    private const string LimitedPrefix = "would be ejected";

    public string Name { get; }

    public MeshServiceOptions Options => Volatile.Read(ref _options);

    public RetryBudget Budget { get; private set; } = null!;

    public TimeSpan? AttemptTimeout { get; private set; }

    public string? HashHeader { get; private set; }

    public bool UsesHashing { get; private set; }

    public bool EndpointLabels { get; private set; }

    /// <summary>The identity this service's endpoints must prove over mTLS; null: any ID of the workload's own trust domain.</summary>
    public Mesh.Identity.SpiffeIdPattern? ServerIdentity { get; private set; }

    /// <summary>The service's mTLS connection pool, created by the transport on first use; replaced when <see cref="ServerIdentity"/> changes.</summary>
    public HttpMessageInvoker? TlsInvoker;

    public string BalancerName { get; private set; } = "";

    /// <summary>Whether only <c>https</c> endpoints may receive this service's requests (see
    /// <see cref="MeshOptionsValidator.RequiresMutualTls"/>); plain-http endpoints from discovery are left out.</summary>
    public bool RequiresMutualTls { get; private set; }

    public double DecayTicks => _pickerSettings.DecayTicks;

    /// <summary>The RTT a failed attempt counts as, at least (the default RTT).</summary>
    public double FailurePenaltyTicks => _pickerSettings.DefaultRttTicks;

    public EndpointState[] Endpoints => Volatile.Read(ref _endpoints);

    public ServiceSnapshot Snapshot => _snapshot;

    public string? DiscoveryProblem
    {
        get
        {
            lock (_lock)
            {
                return _sourceProblems.Count == 0 ? null : string.Join("; ", _sourceProblems.Select(p => $"{p.Key}: {p.Value}"));
            }
        }
    }

    public long Now() => _env.Time.GetTimestamp();

    // ------------------------------------------------------------------ configuration and endpoint sets

    /// <summary>Applies (re)loaded options; endpoint states that stay keep their statistics and health.</summary>
    public void Configure(MeshServiceOptions options, string? zone, bool requireMutualTls = false)
    {
        lock (_lock)
        {
            _options = options;
            _zone = zone;
            RequiresMutualTls = MeshOptionsValidator.RequiresMutualTls(options, requireMutualTls);
            ApplySettings(options);
            var sources = MeshOptionsValidator.ParseDiscovery(options.Discovery);
            if (sources.Contains(MeshServiceOptions.ConfigurationDiscoveryName, StringComparer.OrdinalIgnoreCase))
            {
                var endpoints = new List<MeshEndpoint>(options.Endpoints.Count);
                foreach (var e in options.Endpoints)
                {
                    endpoints.Add(new MeshEndpoint(e.Address, e.Weight, e.Zone, e.Metadata.Count == 0 ? null : new Dictionary<string, string>(e.Metadata)));
                }

                _sources[MeshServiceOptions.ConfigurationDiscoveryName] = endpoints;
            }

            foreach (var stale in _sources.Keys.Where(s => !sources.Contains(s, StringComparer.OrdinalIgnoreCase)).ToList())
            {
                _sources.Remove(stale);
                _sourceProblems.Remove(stale);
            }

            MergeSourcesLocked(MeshServiceOptions.ConfigurationDiscoveryName);
        }
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

            _sources[source] = copy;
            _sourceProblems.Remove(source);
            MergeSourcesLocked(source);
            _env.Metrics.RecordDiscoveryUpdate(Name, source);
        }
    }

    /// <summary>Records that a source failed; its last set stays in use.</summary>
    public void ReportSourceFailure(string source, Exception error)
    {
        int count;
        lock (_lock)
        {
            _sourceProblems[source] = error.Message;
            count = _sources.TryGetValue(source, out var last) ? last.Count : 0;
            if (_endpoints.Length == 0)
            {
                RebuildLocked(Now()); // so that "no endpoints" names the discovery failure
            }
        }

        MeshLog.DiscoveryFailed(_env.Logger, error, Name, source, count);
        _env.Metrics.RecordDiscoveryFailure(Name, source);
    }

    private void ApplySettings(MeshServiceOptions options)
    {
        _pickerSettings = new PickerSettings(_env.Ticks(options.PeakEwma.DecayTime), _env.Ticks(options.PeakEwma.DefaultRtt));
        _failureKinds = options.OutlierDetection.FailureKinds;
        AttemptTimeout = options.AttemptTimeout;
        HashHeader = options.HashHeader;
        UsesHashing = options.LoadBalancer == LoadBalancerKind.ConsistentHash;
        EndpointLabels = options.EndpointLabels;
        BalancerName = options.LoadBalancer.ToString();
        var budget = options.RetryBudget;
        if (Budget is null || _budgetOptions is not { } previous || previous.RetryRatio != budget.RetryRatio ||
            previous.MinRetriesPerSecond != budget.MinRetriesPerSecond || previous.Window != budget.Window)
        {
            Budget = new RetryBudget(budget, (long)_env.Frequency); // only a changed budget starts afresh
            _budgetOptions = budget;
        }

        var identity = options.ServerIdentity is null ? null : Mesh.Identity.SpiffeIdPattern.Parse(options.ServerIdentity);
        if (!Equals(identity, ServerIdentity))
        {
            ServerIdentity = identity;
            if (Interlocked.Exchange(ref TlsInvoker, null) is { } stale)
            {
                // Requests in flight on the old pool finish; new ones use a pool checking the new identity.
                _ = Task.Delay(TimeSpan.FromMinutes(1)).ContinueWith(_ => stale.Dispose(), TaskScheduler.Default);
            }
        }
    }

    private void MergeSourcesLocked(string changedSource)
    {
        var now = Now();
        var existing = new Dictionary<string, EndpointState>(_endpoints.Length, StringComparer.Ordinal);
        foreach (var state in _endpoints)
        {
            existing[state.Key] = state;
        }

        var merged = new List<EndpointState>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var added = 0;
        var slowStart = _hadEndpoints && Options.SlowStart.Window > TimeSpan.Zero;
        var refused = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (source, endpoints) in _sources)
        {
            foreach (var endpoint in endpoints)
            {
                if (endpoint.Address.Scheme != Uri.UriSchemeHttps && !AdmitPlainHttpLocked(source, endpoint, refused))
                {
                    continue;
                }

                if (!seen.Add(endpoint.Key))
                {
                    if (string.Equals(source, changedSource, StringComparison.OrdinalIgnoreCase))
                    {
                        MeshLog.EndpointSkipped(_env.Logger, Name, endpoint.Key, source, "listed more than once; the first entry wins");
                    }

                    continue;
                }

                if (existing.Remove(endpoint.Key, out var state))
                {
                    if (!state.Endpoint.Equals(endpoint))
                    {
                        state.Update(endpoint);
                    }
                }
                else
                {
                    state = new EndpointState(endpoint) { Service = this };
                    if (slowStart)
                    {
                        state.SlowStartBegin = now;
                    }

                    added++;
                }

                merged.Add(state);
            }
        }

        _refusedPlainHttp.IntersectWith(refused); // an endpoint refused again after it left is reported again
        _warnedPlainHttp.IntersectWith(seen);
        var removed = existing.Count;
        Volatile.Write(ref _endpoints, merged.ToArray());
        if (merged.Count > 0)
        {
            _hadEndpoints = true;
        }

        RebuildLocked(now);
        if (added > 0 || removed > 0)
        {
            MeshLog.EndpointsUpdated(_env.Logger, Name, changedSource, merged.Count, added, removed);
        }
    }

    /// <summary>Decides whether a plain-http endpoint may join the set. A service that requires mutual TLS never
    /// admits one from a discovery source (a registry writer must not be able to downgrade it to clear text):
    /// the endpoint is left out with a warning and counted. Endpoints from configuration were validated on start.
    /// With an identity but no requirement, a plain-http endpoint is admitted with a warning, once.</summary>
    private bool AdmitPlainHttpLocked(string source, MeshEndpoint endpoint, HashSet<string> refused)
    {
        if (RequiresMutualTls)
        {
            refused.Add(endpoint.Key);
            if (_refusedPlainHttp.Add(endpoint.Key))
            {
                MeshLog.PlainHttpEndpointRefused(_env.Logger, Name, endpoint.Address.ToString(), source);
                _env.Metrics.RecordEndpointRefused(Name, source, "plain_http");
            }

            return false;
        }

        if (_env.HasIdentity && _warnedPlainHttp.Add(endpoint.Key))
        {
            MeshLog.PlainHttpEndpointAdmitted(_env.Logger, Name, endpoint.Address.ToString(), source);
        }

        return true;
    }

    // ------------------------------------------------------------------ picking

    /// <summary>
    /// Picks an endpoint for one attempt, skipping endpoints this request already tried and probing endpoints whose
    /// single probe is taken. Allocates nothing.
    /// </summary>
    /// <exception cref="MeshNoEndpointsException">No endpoint can take the request.</exception>
    public EndpointState Pick(in PickContext context, TriedEndpoints? tried, out bool isProbe)
    {
        var snapshot = _snapshot;
        if (context.Now >= snapshot.RefreshAt)
        {
            snapshot = TryRefresh(context.Now);
        }

        var picker = snapshot.Picker ?? throw new MeshNoEndpointsException(Name, snapshot.UnavailableReason ?? "no endpoints");
        for (var attempt = 0; attempt < 6; attempt++)
        {
            var endpoint = picker.Pick(attempt == 0 ? context : context.WithAttempt(attempt));
            if (Acceptable(endpoint, tried, out isProbe))
            {
                return endpoint;
            }
        }

        foreach (var endpoint in picker.Endpoints)
        {
            if (Acceptable(endpoint, tried, out isProbe))
            {
                return endpoint;
            }
        }

        // Everything was tried already (or is a busy probe): reuse rather than fail, still balanced.
        isProbe = false;
        for (var attempt = 0; attempt < 6; attempt++)
        {
            var endpoint = picker.Pick(context.WithAttempt(attempt + 6));
            if (endpoint.Status != EndpointStatus.Probing)
            {
                return endpoint;
            }
        }

        return picker.Pick(context);
    }

    private static bool Acceptable(EndpointState endpoint, TriedEndpoints? tried, out bool isProbe)
    {
        isProbe = false;
        if (tried is not null && tried.Contains(endpoint))
        {
            return false;
        }

        if (endpoint.Status == EndpointStatus.Probing)
        {
            isProbe = endpoint.TryTakeProbe();
            return isProbe;
        }

        return true;
    }

    private ServiceSnapshot TryRefresh(long now)
    {
        if (_lock.TryEnter())
        {
            try
            {
                if (now >= _snapshot.RefreshAt)
                {
                    RebuildLocked(now);
                }
            }
            finally
            {
                _lock.Exit();
            }
        }

        return _snapshot;
    }

    // ------------------------------------------------------------------ outcomes and outlier detection

    /// <summary>Feeds one attempt's outcome into outlier detection (the latency went to the endpoint already).</summary>
    public void OnOutcome(EndpointState endpoint, RequestOutcome outcome, bool isProbe, string? failure)
    {
        var counted = outcome != RequestOutcome.Success && (_failureKinds & (OutlierFailureKinds)outcome) != 0;
        if (isProbe)
        {
            if (outcome == RequestOutcome.Success || counted)
            {
                lock (_lock)
                {
                    if (endpoint.Status == EndpointStatus.Probing)
                    {
                        if (counted)
                        {
                            EjectLocked(endpoint, $"probe failed: {failure}", Now(), force: true);
                        }
                        else
                        {
                            ReturnLocked(endpoint, "probe request succeeded");
                        }
                    }
                }
            }

            endpoint.ReleaseProbe();
            return;
        }

        var od = Options.OutlierDetection;
        if (od.FailureRateThreshold > 0 && (outcome == RequestOutcome.Success || counted))
        {
            RecordRate(endpoint, counted, od);
        }

        if (outcome == RequestOutcome.Success)
        {
            if (Volatile.Read(ref endpoint.ConsecutiveFailures) != 0)
            {
                Volatile.Write(ref endpoint.ConsecutiveFailures, 0);
            }

            if (endpoint.Reason is { } stale && endpoint.Status == EndpointStatus.Active && stale.StartsWith(LimitedPrefix, StringComparison.Ordinal))
            {
                endpoint.Reason = null; // it recovered before it could be ejected
            }

            return;
        }

        if (!counted)
        {
            return;
        }

        endpoint.LastFailure = failure;
        var streak = Interlocked.Increment(ref endpoint.ConsecutiveFailures);
        if (od.ConsecutiveFailures > 0 && streak >= od.ConsecutiveFailures && endpoint.Status == EndpointStatus.Active)
        {
            lock (_lock)
            {
                EjectLocked(endpoint, $"{streak} consecutive failures (last: {failure})", Now(), force: false);
            }
        }
    }

    private void RecordRate(EndpointState endpoint, bool failed, OutlierDetectionOptions od)
    {
        var now = Now();
        var half = Math.Max(1, _env.Ticks(od.FailureRateWindow) / 2);
        var epoch = now / half;
        int requests, failures;
        lock (endpoint)
        {
            ref var w = ref endpoint.RateWindow;
            if (w.Epoch != epoch)
            {
                var adjacent = w.Epoch == epoch - 1;
                w.PreviousRequests = adjacent ? w.Requests : 0;
                w.PreviousFailures = adjacent ? w.Failures : 0;
                w.Requests = 0;
                w.Failures = 0;
                w.Epoch = epoch;
            }

            w.Requests++;
            if (failed)
            {
                w.Failures++;
            }

            requests = w.Requests + w.PreviousRequests;
            failures = w.Failures + w.PreviousFailures;
        }

        if (failed && requests >= od.FailureRateMinimumRequests && failures * 100 >= od.FailureRateThreshold * requests && endpoint.Status == EndpointStatus.Active)
        {
            lock (_lock)
            {
                EjectLocked(endpoint, $"{failures} of the last {requests} requests failed (FailureRateThreshold {od.FailureRateThreshold}%)", now, force: false);
                endpoint.RateWindow = default;
            }
        }
    }

    private void EjectLocked(EndpointState endpoint, string reason, long now, bool force)
    {
        if (endpoint.Status == EndpointStatus.Ejected || _disposed || !_endpoints.Contains(endpoint))
        {
            return;
        }

        var od = Options.OutlierDetection;
        if (!force)
        {
            var ejected = 0;
            foreach (var e in _endpoints)
            {
                if (e.Status != EndpointStatus.Active)
                {
                    ejected++;
                }
            }

            var allowed = od.MaxEjectionPercent == 0 ? 0 : Math.Max(1, _endpoints.Length * od.MaxEjectionPercent / 100);
            if (ejected >= allowed)
            {
                if (endpoint.Reason?.StartsWith(LimitedPrefix, StringComparison.Ordinal) != true)
                {
                    MeshLog.EjectionLimited(_env.Logger, Name, endpoint.Key, reason, ejected, _endpoints.Length, od.MaxEjectionPercent);
                }

                endpoint.Reason = $"{LimitedPrefix} ({reason}) but MaxEjectionPercent is reached";

                Volatile.Write(ref endpoint.ConsecutiveFailures, 0);
                return;
            }
        }

        var previous = PublicHealth(endpoint, now);
        if (!force && endpoint.ReturnedAt != 0 && now - endpoint.ReturnedAt > _env.Ticks(od.BaseEjectionTime))
        {
            endpoint.EjectionsInARow = 0; // it served normally for a while since it returned: start over
        }

        endpoint.EjectionsInARow++;
        var duration = TimeSpan.FromTicks(Math.Min(od.BaseEjectionTime.Ticks * endpoint.EjectionsInARow, od.MaxEjectionTime.Ticks));
        endpoint.EjectedUntil = now + _env.Ticks(duration);
        endpoint.Status = EndpointStatus.Ejected;
        endpoint.SlowStartBegin = 0;
        endpoint.Reason = reason;
        Volatile.Write(ref endpoint.ConsecutiveFailures, 0);
        RebuildLocked(now);
        ScheduleEjectionTimerLocked(now);
        MeshLog.EndpointEjected(_env.Logger, Name, endpoint.Key, duration, endpoint.EjectionsInARow, reason);
        _env.Metrics.RecordEjection(Name, reason.StartsWith("probe", StringComparison.Ordinal) ? "probe_failed" : reason.Contains("FailureRateThreshold", StringComparison.Ordinal) ? "failure_rate" : "consecutive_failures");
        _env.Raise(new MeshEndpointHealthChangedEventArgs(Name, endpoint.Endpoint, previous, MeshEndpointHealth.Ejected, reason));
    }

    private void ReturnLocked(EndpointState endpoint, string reason)
    {
        var now = Now();
        var previous = PublicHealth(endpoint, now);
        endpoint.Status = EndpointStatus.Active;
        endpoint.ReturnedAt = now;
        endpoint.Reason = null;
        endpoint.SlowStartBegin = Options.SlowStart.Window > TimeSpan.Zero ? now : 0;
        Volatile.Write(ref endpoint.ConsecutiveFailures, 0);
        RebuildLocked(now);
        MeshLog.EndpointReturned(_env.Logger, Name, endpoint.Key, reason);
        _env.Metrics.RecordReturn(Name);
        RaiseIfChanged(endpoint, previous, now, reason);
    }

    private void ScheduleEjectionTimerLocked(long now)
    {
        var next = long.MaxValue;
        foreach (var e in _endpoints)
        {
            if (e.Status == EndpointStatus.Ejected)
            {
                next = Math.Min(next, e.EjectedUntil);
            }
        }

        if (next == long.MaxValue)
        {
            _ejectionTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        var due = _env.Span(Math.Max(next - now, 0));
        if (_ejectionTimer is null)
        {
            _ejectionTimer = _env.Time.CreateTimer(static state => ((ServiceRuntime)state!).OnEjectionTimer(), this, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _ejectionTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnEjectionTimer()
    {
        var probing = new List<EndpointState>();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var now = Now();
            foreach (var e in _endpoints)
            {
                if (e.Status == EndpointStatus.Ejected && e.EjectedUntil <= now)
                {
                    e.Status = EndpointStatus.Probing;
                    e.Reason = "ejection ended; the next request decides whether it returns";
                    e.ReleaseProbe();
                    probing.Add(e);
                }
            }

            if (probing.Count > 0)
            {
                RebuildLocked(now);
            }

            ScheduleEjectionTimerLocked(now);
        }

        foreach (var e in probing)
        {
            MeshLog.EndpointProbing(_env.Logger, Name, e.Key);
            _env.Raise(new MeshEndpointHealthChangedEventArgs(Name, e.Endpoint, MeshEndpointHealth.Ejected, MeshEndpointHealth.Probing, e.Reason!));
        }
    }

    // ------------------------------------------------------------------ active health checks

    /// <summary>Records one active check result and applies the thresholds.</summary>
    public void OnHealthCheck(EndpointState endpoint, bool healthy, string detail)
    {
        var hc = Options.HealthCheck;
        lock (_lock)
        {
            if (_disposed || !_endpoints.Contains(endpoint))
            {
                return;
            }

            var now = Now();
            if (healthy)
            {
                endpoint.CheckFailures = 0;
                endpoint.CheckSuccesses++;
                if (endpoint.ActiveHealth == ActiveHealth.Unknown)
                {
                    endpoint.ActiveHealth = ActiveHealth.Healthy;
                }
                else if (endpoint.ActiveHealth == ActiveHealth.Unhealthy && endpoint.CheckSuccesses >= hc.HealthyThreshold)
                {
                    var previous = PublicHealth(endpoint, now);
                    endpoint.ActiveHealth = ActiveHealth.Healthy;
                    endpoint.Reason = null;
                    endpoint.SlowStartBegin = Options.SlowStart.Window > TimeSpan.Zero ? now : 0;
                    RebuildLocked(now);
                    var reason = $"passed {endpoint.CheckSuccesses} health check(s): {detail}";
                    MeshLog.EndpointReturned(_env.Logger, Name, endpoint.Key, reason);
                    _env.Metrics.RecordReturn(Name);
                    RaiseIfChanged(endpoint, previous, now, reason);
                }
            }
            else
            {
                endpoint.CheckSuccesses = 0;
                endpoint.CheckFailures++;
                MeshLog.HealthCheckFailed(_env.Logger, Name, endpoint.Key, detail);
                if (endpoint.ActiveHealth != ActiveHealth.Unhealthy && endpoint.CheckFailures >= hc.UnhealthyThreshold)
                {
                    var previous = PublicHealth(endpoint, now);
                    endpoint.ActiveHealth = ActiveHealth.Unhealthy;
                    endpoint.Reason = $"failed {endpoint.CheckFailures} health check(s) in a row: {detail}";
                    RebuildLocked(now);
                    MeshLog.EndpointUnhealthy(_env.Logger, Name, endpoint.Key, endpoint.Reason);
                    RaiseIfChanged(endpoint, previous, now, endpoint.Reason);
                }
            }
        }
    }

    private void RaiseIfChanged(EndpointState endpoint, MeshEndpointHealth previous, long now, string reason)
    {
        var current = PublicHealth(endpoint, now);
        if (current != previous)
        {
            _env.Raise(new MeshEndpointHealthChangedEventArgs(Name, endpoint.Endpoint, previous, current, reason));
        }
    }

    /// <summary>Forgets active-check results (checks were turned off): endpoints are no longer held back by them.</summary>
    public void ResetActiveHealth()
    {
        lock (_lock)
        {
            var changed = false;
            foreach (var e in _endpoints)
            {
                changed |= e.ActiveHealth == ActiveHealth.Unhealthy;
                e.ActiveHealth = ActiveHealth.Unknown;
                e.CheckFailures = 0;
                e.CheckSuccesses = 0;
            }

            if (changed)
            {
                RebuildLocked(Now());
            }
        }
    }

    // ------------------------------------------------------------------ snapshot building

    private void RebuildLocked(long now)
    {
        var options = Options;
        var all = _endpoints;
        var wasPanic = _snapshot.Panic;
        if (all.Length == 0)
        {
            _snapshot = new ServiceSnapshot(null, false, long.MaxValue, _sourceProblems.Count > 0
                ? "discovery failed before any endpoint was found (" + string.Join("; ", _sourceProblems.Values) + ")"
                : "the service has no endpoints");
            return;
        }

        var routable = new List<EndpointState>(all.Length);
        foreach (var e in all)
        {
            if (e.IsRoutable)
            {
                routable.Add(e);
            }
        }

        var threshold = options.PanicThreshold;
        var panic = threshold > 0 && routable.Count * 100 < threshold * all.Length;
        IReadOnlyList<EndpointState> candidates = panic ? all : routable;
        if (candidates.Count == 0)
        {
            _snapshot = new ServiceSnapshot(null, false, long.MaxValue,
                $"all {all.Length} endpoints are ejected or unhealthy and PanicThreshold is 0 (Mesh:Services:{Name}:PanicThreshold)");
            return;
        }

        if (!panic && _zone is { } zone)
        {
            var local = candidates.Where(e => string.Equals(e.Endpoint.Zone, zone, StringComparison.OrdinalIgnoreCase)).ToList();
            var localTotal = all.Count(e => string.Equals(e.Endpoint.Zone, zone, StringComparison.OrdinalIgnoreCase));
            if (local.Count > 0 && local.Count * 100 >= Math.Max(threshold, 1) * localTotal)
            {
                candidates = local;
            }
        }

        var refreshAt = long.MaxValue;
        var windowTicks = _env.Ticks(options.SlowStart.Window);
        double Weight(EndpointState e)
        {
            var factor = SlowStartFactor(e, now, windowTicks, options.SlowStart);
            if (factor < 1.0)
            {
                refreshAt = Math.Min(refreshAt, now + Math.Min(windowTicks / 20, (long)_env.Frequency));
            }

            return e.Endpoint.Weight * factor;
        }

        EndpointPicker picker;
        var split = options.TrafficSplit;
        if (split.Enabled)
        {
            var groups = new List<EndpointPicker>();
            var groupWeights = new List<long>();
            foreach (var (value, share) in split.Weights)
            {
                var members = candidates.Where(e => e.Endpoint.Metadata.TryGetValue(split.MetadataKey!, out var v) && v == value).ToArray();
                if (share > 0 && members.Length > 0)
                {
                    groups.Add(EndpointPickerFactory.Create(options.LoadBalancer, members, members.Select(Weight).ToArray(), _pickerSettings));
                    groupWeights.Add(share);
                }
            }

            var all2 = candidates.ToArray();
            picker = groups.Count > 0
                ? new TrafficSplitPicker(all2, [.. groups], [.. groupWeights])
                : EndpointPickerFactory.Create(options.LoadBalancer, all2, all2.Select(Weight).ToArray(), _pickerSettings);
        }
        else
        {
            var array = candidates.ToArray();
            picker = EndpointPickerFactory.Create(options.LoadBalancer, array, array.Select(Weight).ToArray(), _pickerSettings);
        }

        _snapshot = new ServiceSnapshot(picker, panic, refreshAt, null);
        if (panic && !wasPanic)
        {
            MeshLog.PanicEntered(_env.Logger, Name, routable.Count, all.Length, threshold);
        }
        else if (!panic && wasPanic)
        {
            MeshLog.PanicExited(_env.Logger, Name, routable.Count, all.Length);
        }
    }

    internal static double SlowStartFactor(EndpointState e, long now, long windowTicks, SlowStartOptions slowStart)
    {
        var begin = e.SlowStartBegin;
        if (begin == 0 || windowTicks <= 0)
        {
            return 1.0;
        }

        var t = (double)(now - begin) / windowTicks;
        if (t >= 1.0)
        {
            e.SlowStartBegin = 0;
            return 1.0;
        }

        return Math.Max(slowStart.MinWeightPercent / 100.0, Math.Pow(Math.Max(t, 0), 1.0 / slowStart.Aggression));
    }

    // ------------------------------------------------------------------ observation

    public MeshEndpointHealth PublicHealth(EndpointState e, long now) =>
        e.Status == EndpointStatus.Ejected ? MeshEndpointHealth.Ejected
        : e.ActiveHealth == ActiveHealth.Unhealthy ? MeshEndpointHealth.Unhealthy
        : e.Status == EndpointStatus.Probing ? MeshEndpointHealth.Probing
        : SlowStartFactor(e, now, _env.Ticks(Options.SlowStart.Window), Options.SlowStart) < 1.0 ? MeshEndpointHealth.SlowStart
        : MeshEndpointHealth.Healthy;

    public MeshServiceSnapshot CreateSnapshot()
    {
        var now = Now();
        var wall = _env.Time.GetUtcNow();
        var options = Options;
        var windowTicks = _env.Ticks(options.SlowStart.Window);
        var list = new List<MeshEndpointSnapshot>();
        foreach (var e in Endpoints)
        {
            var health = PublicHealth(e, now);
            DateTimeOffset? until = health == MeshEndpointHealth.Ejected ? wall + _env.Span(Math.Max(e.EjectedUntil - now, 0)) : null;
            TimeSpan? rtt = e.IsMeasured ? _env.Span(e.RttEstimate(now, DecayTicks)) : null;
            list.Add(new MeshEndpointSnapshot(e.Endpoint, health, e.Reason ?? (health == MeshEndpointHealth.SlowStart ? "ramping up after joining or returning" : null),
                e.InFlight, rtt, e.Requests, e.Failures, SlowStartFactor(e, now, windowTicks, options.SlowStart), until));
        }

        return new MeshServiceSnapshot(Name, options.LoadBalancer, _snapshot.Panic, list, DiscoveryProblem);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _ejectionTimer?.Dispose();
            _ejectionTimer = null;
        }
    }

    /// <summary>Where one discovery source of this service publishes.</summary>
    public IMeshEndpointSink CreateSink(string source) => new SourceSink(this, source);

    private sealed class SourceSink(ServiceRuntime service, string source) : IMeshEndpointSink
    {
        public void Publish(IReadOnlyList<MeshEndpoint> endpoints) => service.SetSource(source, endpoints);

        public void ReportFailure(Exception error) => service.ReportSourceFailure(source, error);
    }
}

/// <summary>The endpoints one request has tried, across retries of the same <see cref="HttpRequestMessage"/>.</summary>
internal sealed class TriedEndpoints
{
    private EndpointState?[] _items = new EndpointState?[4];
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public bool Contains(EndpointState endpoint)
    {
        var items = Volatile.Read(ref _items);
        var count = Math.Min(Volatile.Read(ref _count), items.Length);
        for (var i = 0; i < count; i++)
        {
            if (ReferenceEquals(items[i], endpoint))
            {
                return true;
            }
        }

        return false;
    }

    public void Add(EndpointState endpoint)
    {
        lock (this)
        {
            if (Contains(endpoint))
            {
                return;
            }

            if (_count == _items.Length)
            {
                Array.Resize(ref _items, _items.Length * 2);
            }

            _items[_count] = endpoint;
            Volatile.Write(ref _count, _count + 1);
        }
    }
}
