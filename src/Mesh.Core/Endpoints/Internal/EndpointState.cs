using System.Runtime.CompilerServices;
using Mesh.Health.Internal;
using Mesh.Services.Internal;

namespace Mesh.Endpoints.Internal;

/// <summary>Routing status of an endpoint, from passive outlier detection.</summary>
internal enum EndpointStatus
{
    /// <summary>Receives traffic.</summary>
    Active = 0,

    /// <summary>Ejected after failures, until its ejection time ends.</summary>
    Ejected,

    /// <summary>The ejection ended; one probe request decides whether it returns or is ejected again.</summary>
    Probing,
}

/// <summary>
/// The live state of one endpoint of one service. One instance per endpoint key lives as long as the endpoint stays in
/// the service's set, so statistics survive configuration and discovery updates. Three kinds of members:
/// <list type="bullet">
/// <item>identity and URI rewriting (immutable apart from the cached rewrite);</item>
/// <item>load and latency, updated on every attempt without locks and without allocating (in-flight and request
/// counters with <see cref="Interlocked"/>, the peak-EWMA estimate under a small lock of its own);</item>
/// <item>health: <see cref="Status"/>, <see cref="ActiveHealth"/>, <see cref="SlowStartBegin"/> and
/// <see cref="Reason"/> are written only under the owning service's lock and read anywhere; the outlier-detection and
/// active-check counters live in <see cref="Outlier"/> and <see cref="Checks"/>, owned by those parts.</item>
/// </list>
/// </summary>
internal sealed class EndpointState
{
    private readonly string _prefix;
    private MeshEndpoint _endpoint;
    private RewrittenUri? _lastRewrite;
    private int _inFlight;
    private long _requests;
    private long _failures;

    // Peak-EWMA estimate, in timestamp ticks; guarded by _rttLock for writes, read without it (a torn pair only
    // skews one cost estimate slightly).
    private readonly Lock _rttLock = new();
    private double _rtt;
    private long _rttStamp;
    private volatile bool _measured;

    private volatile EndpointStatus _status;
    private volatile ActiveHealth _activeHealth;
    private volatile HealthReason? _reason;
    private long _slowStartBegin;
    private int _probeTaken;

    public EndpointState(MeshEndpoint endpoint, ServiceRuntime? service = null)
    {
        _endpoint = endpoint;
        Service = service;
        Key = endpoint.Key;
        var address = endpoint.Address;
        Scheme = address.Scheme;
        Host = address.IdnHost;
        Port = address.Port;
        _prefix = $"{Scheme}://{(address.HostNameType == UriHostNameType.IPv6 ? "[" + Host + "]" : Host)}:{Port}";
    }

    public MeshEndpoint Endpoint => Volatile.Read(ref _endpoint);

    public string Key { get; }

    /// <summary>The service this endpoint state belongs to (null only in unit tests of single parts).</summary>
    public ServiceRuntime? Service { get; }

    public string Scheme { get; }

    public string Host { get; }

    public int Port { get; }

    // ------------------------------------------------------------------ load and latency (hot path)

    public int InFlight => Volatile.Read(ref _inFlight);

    public long Requests => Volatile.Read(ref _requests);

    public long Failures => Volatile.Read(ref _failures);

    public bool IsMeasured => _measured;

    // ------------------------------------------------------------------ health (written under the service lock)

    public EndpointStatus Status { get => _status; set => _status = value; }

    public ActiveHealth ActiveHealth { get => _activeHealth; set => _activeHealth = value; }

    /// <summary>Whether the endpoint may receive normal traffic (not ejected, not failing active checks).</summary>
    public bool IsRoutable => _status != EndpointStatus.Ejected && _activeHealth != ActiveHealth.Unhealthy;

    /// <summary>Why the endpoint is in its current state (a kind to decide on, a text to show), or null.</summary>
    public HealthReason? Reason { get => _reason; set => _reason = value; }

    /// <summary>When the current slow-start ramp began (timestamp); 0 when the endpoint never ramped. The ramp's
    /// progress is computed from it (see <see cref="SlowStart"/>); reading never changes it.</summary>
    public long SlowStartBegin { get => Volatile.Read(ref _slowStartBegin); set => Volatile.Write(ref _slowStartBegin, value); }

    /// <summary>Outlier-detection counters (see <see cref="OutlierDetector"/>).</summary>
    public OutlierState Outlier { get; } = new();

    /// <summary>Active health-check streaks (see <see cref="ActiveHealthTracker"/>).</summary>
    public ActiveCheckState Checks { get; } = new();

    public void Update(MeshEndpoint endpoint) => Volatile.Write(ref _endpoint, endpoint);

    /// <summary>The logical request URI rewritten to this endpoint: scheme, host and port from the endpoint; path and
    /// query kept. The last result is cached (a <see cref="Uri"/> is immutable), so a repeated path costs no parse.</summary>
    public Uri Rewrite(Uri logical)
    {
        var pathAndQuery = logical.PathAndQuery;
        var cached = Volatile.Read(ref _lastRewrite);
        if (cached is not null && string.Equals(cached.PathAndQuery, pathAndQuery, StringComparison.Ordinal))
        {
            return cached.Uri;
        }

        var uri = new Uri(_prefix + pathAndQuery, UriKind.Absolute);
        Volatile.Write(ref _lastRewrite, new RewrittenUri(pathAndQuery, uri));
        return uri;
    }

    /// <summary>Marks the start of an attempt; the caller keeps the start timestamp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void OnRequestStart()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
    }

    /// <summary>Marks the end of an attempt and feeds its latency into the peak-EWMA estimate. A failed attempt counts
    /// as at least <paramref name="failurePenaltyTicks"/>, so that an endpoint failing fast (connection refused) does
    /// not look like the fastest one and attract traffic.</summary>
    public void OnRequestEnd(long start, long now, double decayTicks, bool failed, double failurePenaltyTicks = 0)
    {
        Interlocked.Decrement(ref _inFlight);
        OnResponse(start, now, decayTicks, failed, failurePenaltyTicks);
    }

    /// <summary>The response headers of an attempt arrived but its call goes on (a gRPC call whose status comes after
    /// the replies, a stream): feeds the time to headers into the estimate — a stream's duration is not a round trip —
    /// and leaves the call in flight until <see cref="OnCallEnd"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void OnResponse(long start, long now, double decayTicks, bool failed, double failurePenaltyTicks = 0)
    {
        double rtt = Math.Max(now - start, 0);
        if (failed)
        {
            Interlocked.Increment(ref _failures);
            rtt = Math.Max(rtt, failurePenaltyTicks);
        }

        ObserveRtt(rtt, now, decayTicks);
    }

    /// <summary>The end of a call that went on after <see cref="OnResponse"/>: no longer in flight. A failure known only
    /// now (a failing status in the trailers, a broken stream) counts, and feeds the penalty into the estimate as a
    /// failed attempt's latency would.</summary>
    public void OnCallEnd(long now, double decayTicks, bool failed, double failurePenaltyTicks)
    {
        Interlocked.Decrement(ref _inFlight);
        if (failed)
        {
            Interlocked.Increment(ref _failures);
            ObserveRtt(failurePenaltyTicks, now, decayTicks);
        }
    }

    /// <summary>Peak-EWMA update (Finagle's <c>PeakEwma</c>, Linkerd's <c>tower::load::PeakEwma</c>): a sample above
    /// the estimate replaces it at once (the peak); otherwise the estimate moves towards the sample with weight
    /// 1 − e^(−Δt/τ), Δt being the time since the previous sample. The first sample replaces the default.</summary>
    public void ObserveRtt(double rttTicks, long now, double decayTicks)
    {
        lock (_rttLock)
        {
            if (!_measured || rttTicks > _rtt)
            {
                _rtt = rttTicks;
            }
            else
            {
                var w = Math.Exp(-(now - _rttStamp) / decayTicks);
                _rtt = (_rtt * w) + (rttTicks * (1 - w));
            }

            _rttStamp = now;
            _measured = true;
        }
    }

    /// <summary>The RTT estimate at <paramref name="now"/>, decayed towards zero since the last sample (Finagle decays
    /// on read, so that an endpoint avoided for a long time is eventually measured again).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double RttEstimate(long now, double decayTicks)
    {
        var elapsed = now - Volatile.Read(ref _rttStamp);
        var rtt = Volatile.Read(ref _rtt);
        if (elapsed <= 0)
        {
            return rtt;
        }

        // Under steady traffic the last sample is recent: e^-x ≈ 1 - x to within x²/2 (< 0.005%), without Math.Exp.
        var x = elapsed / decayTicks;
        return x < 0.01 ? rtt * (1 - x) : rtt * Math.Exp(-x);
    }

    /// <summary>For probing endpoints: takes the single probe slot.</summary>
    public bool TryTakeProbe() => Interlocked.CompareExchange(ref _probeTaken, 1, 0) == 0;

    /// <summary>Releases the probe slot (after the probe's outcome was recorded, or when probing begins).</summary>
    public void ReleaseProbe() => Volatile.Write(ref _probeTaken, 0);

    public override string ToString() => Key;
}

/// <summary>A cached rewrite result.</summary>
internal sealed record RewrittenUri(string PathAndQuery, Uri Uri);
