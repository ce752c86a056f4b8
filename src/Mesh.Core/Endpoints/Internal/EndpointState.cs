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
    private Uri? _lastRewrite;
    private Mesh.Http.Internal.AnsweredMethod[] _answered = [];
    private int _inFlight;
    private long _requests;
    private long _failures;

    // RTT estimate (see ObserveRtt), in timestamp ticks: its logarithm, the value itself and when it was last
    // updated. Written under _rttLock, read without it (a torn pair only skews one cost estimate slightly).
    private readonly Lock _rttLock = new();
    private double _logRtt;
    private double _rtt;
    private long _rttStamp;
    private int _rttSamples;
    private double _penalty;
    private long _penaltyStamp;
    private volatile bool _measured;

    // Share of recent attempts in the service's tail (see ObserveTail) and when it last took a sample; written without
    // a lock (a lost update only delays the estimate by a sample, or weighs one sample as if it came sooner).
    // _typicalLog/_typical: a symmetric moving geometric mean of the RTT (the endpoint's own median for log-normal
    // noise), written under _rttLock with the estimate.
    private double _tailRate;
    private long _tailStamp;
    private double _typicalLog;
    private double _typical;

    private volatile EndpointStatus _status;
    private volatile ActiveHealth _activeHealth;
    private volatile HealthReason? _reason;
    private long _slowStartBegin;
    private int _probeTaken;
    private bool _removed;
    private Mesh.Http.Internal.EndpointPool? _pool;

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

    /// <summary>The endpoint's <c>scheme://host:port</c> (IPv6 hosts in brackets), as a rewritten URI starts.</summary>
    public string Prefix => _prefix;

    /// <summary>The service this endpoint state belongs to (null only in unit tests of single parts).</summary>
    public ServiceRuntime? Service { get; }

    public string Scheme { get; }

    public string Host { get; }

    public int Port { get; }

    // ------------------------------------------------------------------ load and latency (hot path)

    public int InFlight => Volatile.Read(ref _inFlight);

    public long Requests => Volatile.Read(ref _requests);

    public long Failures => Volatile.Read(ref _failures);

    /// <summary>Whether the endpoint has an RTT estimate (any sample yet).</summary>
    public bool IsMeasured => _measured;

    /// <summary>Whether the RTT estimate is worth comparing with other endpoints': it averages at least
    /// <see cref="TrustedAfterSamples"/> samples, or a failure set it (<see cref="ObservePeak"/>).</summary>
    public bool IsRttTrusted => Volatile.Read(ref _rttSamples) >= TrustedAfterSamples;

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

    /// <summary>Whether the endpoint left its service's set (this state is not used for new requests any more).</summary>
    public bool Removed { get => Volatile.Read(ref _removed); set => Volatile.Write(ref _removed, value); }

    /// <summary>The plain-http connections to this endpoint, once the transport made them (see
    /// <see cref="Mesh.Http.Internal.EndpointPool"/>).</summary>
    public Mesh.Http.Internal.EndpointPool? Pool { get => Volatile.Read(ref _pool); set => Volatile.Write(ref _pool, value); }

    /// <summary>The logical request URI rewritten to this endpoint: scheme, host and port from the endpoint; path and
    /// query kept. The last result is cached (a <see cref="Uri"/> is immutable), so a repeated path costs no parse.</summary>
    public Uri Rewrite(Uri logical)
    {
        // The path and query as the caller wrote them (no string made): the new URI is parsed — and so canonicalized —
        // exactly as the logical one was. The last rewrite is reused while the path repeats.
        var pathAndQuery = RawPathAndQuery(logical);
        var cached = Volatile.Read(ref _lastRewrite);
        if (cached is not null && cached.OriginalString.AsSpan(_prefix.Length).SequenceEqual(pathAndQuery))
        {
            return cached;
        }

        var uri = new Uri(string.Concat(_prefix.AsSpan(), pathAndQuery), UriKind.Absolute);
        Volatile.Write(ref _lastRewrite, uri);
        return uri;
    }

    /// <summary>The most method instances other than the <see cref="HttpMethod"/> singletons an endpoint keeps an
    /// <see cref="Mesh.Http.Internal.AnsweredMethod"/> for (an app's own <c>static readonly HttpMethod Purge</c>); past
    /// it, a request with yet another instance gets a new one each time (an app making a method per request does).</summary>
    internal const int MaxCustomMethods = 8;

    /// <summary>The method to put back on a request this endpoint answered: equal to <paramref name="method"/>, carrying
    /// the caller's instance and the endpoint as it is now (see <see cref="Mesh.Http.Internal.AnsweredMethod"/>). One per
    /// method instance and endpoint, made on the first answer and reused after (copy on write, no lock: a lost race
    /// only makes one twice).</summary>
    public Mesh.Http.Internal.AnsweredMethod Answered(HttpMethod method)
    {
        method = Mesh.Http.Internal.AnsweredMethod.OriginalOf(method);
        var endpoint = Endpoint;
        var cache = Volatile.Read(ref _answered);
        var current = 0;
        var custom = 0;
        foreach (var answered in cache)
        {
            if (ReferenceEquals(answered.Endpoint, endpoint))
            {
                if (ReferenceEquals(answered.Original, method))
                {
                    return answered;
                }

                current++;
                if (!Mesh.Http.Internal.AnsweredMethod.IsStandard(answered.Original))
                {
                    custom++;
                }
            }
        }

        var made = new Mesh.Http.Internal.AnsweredMethod(method, endpoint);
        if (custom < MaxCustomMethods || Mesh.Http.Internal.AnsweredMethod.IsStandard(method))
        {
            // Entries made for the endpoint as it was (before a weight or metadata update) are dropped.
            var next = new Mesh.Http.Internal.AnsweredMethod[current + 1];
            var i = 0;
            foreach (var answered in cache)
            {
                if (ReferenceEquals(answered.Endpoint, endpoint))
                {
                    next[i++] = answered;
                }
            }

            next[i] = made;
            Volatile.Write(ref _answered, next);
        }

        return made;
    }

    /// <summary>The part of an absolute URI's original string after the authority, without a fragment; the parsed
    /// <see cref="Uri.PathAndQuery"/> (a new string) for a URI whose original string does not have the usual shape.</summary>
    internal static ReadOnlySpan<char> RawPathAndQuery(Uri logical)
    {
        var text = logical.OriginalString.AsSpan();
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0 || text[..scheme].ContainsAnyExcept(SchemeChars) || text.ContainsAny('\\', ' ') || logical.UserEscaped)
        {
            return logical.PathAndQuery;
        }

        var rest = text[(scheme + 3)..];
        var path = rest.IndexOfAny('/', '?', '#');
        if (path < 0)
        {
            return [];
        }

        rest = rest[path..];
        var fragment = rest.IndexOf('#');
        return fragment < 0 ? rest : rest[..fragment];
    }

    private static readonly System.Buffers.SearchValues<char> SchemeChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

    /// <summary>Marks the start of an attempt; the caller keeps the start timestamp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void OnRequestStart()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
    }

    /// <summary>Marks the end of a request and feeds its latency into the RTT estimate: a success (or a cancellation)
    /// through <see cref="ObserveRtt"/>; a failed attempt through <see cref="ObservePeak"/>, as at least
    /// <paramref name="failurePenaltyTicks"/>, so that an endpoint failing fast (connection refused) does not look like
    /// the fastest one and attract traffic. A success or <paramref name="cancelled"/> attempt also goes into the tail rate
    /// (<see cref="ObserveTail"/>) when <paramref name="tailThresholdTicks"/>, the service's tail threshold, is known
    /// (not 0); <paramref name="jitterTicks"/> is the least an answer must be above the endpoint's typical RTT to be
    /// late (<see cref="LoadBalancing.Internal.PickerSettings.JitterTicks"/>).</summary>
    public void OnRequestEnd(long start, long now, double decayTicks, bool failed, double failurePenaltyTicks = 0, long tailThresholdTicks = 0, bool cancelled = false, double jitterTicks = 0)
    {
        Interlocked.Decrement(ref _inFlight);
        if (!failed && tailThresholdTicks > 0)
        {
            ObserveTail(now - start, tailThresholdTicks, now, decayTicks, cancelled, jitterTicks);
        }

        OnResponse(start, now, decayTicks, failed, failurePenaltyTicks);
    }

    /// <summary>The percentile of the service's recent attempt latencies above which an attempt is in the service's
    /// tail, for <see cref="ObserveTail"/>.</summary>
    public const double TailPercentile = 97.5;

    /// <summary>The weight of one attempt in <see cref="TailFactor"/>'s moving average (about the last 128 attempts:
    /// the rate of a healthy endpoint, 2.5%, then varies by about ±1 point).</summary>
    public const double TailSampleWeight = 1.0 / 128;

    /// <summary>How far above the expected 2.5% an endpoint's rate of late answers must be before it counts (2.5
    /// points: 2.5 standard deviations of a healthy endpoint's moving average).</summary>
    public const double TailRateMargin = 0.025;

    /// <summary>How much each point of late answers beyond the margin adds to <see cref="TailFactor"/>: 0.4, so that
    /// an endpoint answering 10% of its requests late (5 points beyond) counts as 3× slower.</summary>
    public const double TailSlope = 40;

    private const double ExpectedTailRate = 1 - (TailPercentile / 100);

    /// <summary>An answer is late for an endpoint from this many times its typical RTT on (as well as above the
    /// service's tail threshold): above the p97.5 of log-normal noise with σ = 0.5, a busy host's loopback spread.</summary>
    public const double LateOfTypical = 2.5;

    /// <summary>The least weight of a sample in the typical RTT (about the last 16 samples).</summary>
    public const double TypicalSampleWeight = 1.0 / 16;

    /// <summary>
    /// Latency-induced probation ("The Tail at Scale", Dean and Barroso, 2013), graded: adds one attempt to the
    /// moving average of how many of this endpoint's attempts end in the tail — later than the service's
    /// <see cref="TailPercentile"/>th percentile <paramref name="thresholdTicks"/> <em>and</em> than
    /// <see cref="LateOfTypical"/> times this endpoint's own typical RTT (a symmetric moving geometric mean of its
    /// samples, weight <see cref="TypicalSampleWeight"/>: its median, where the estimate proper leans to the fast
    /// answers), <em>and</em> by at least <paramref name="jitterTicks"/> more than that typical RTT — the jitter floor
    /// PeakEwma compares RTTs with (1 ms by default): on a loopback or same-host service answering in 0.1 ms, a busy
    /// host's scheduler puts some answers at 0.5 ms, and counting those as a tail took a replica off its fair share
    /// (85/15 between two equal replicas in the fairness bench) for differences the RTT comparison ignores. An attempt <paramref name="cancelled"/> after the service's percentile counts as late whatever the
    /// endpoint's typical RTT: most are the losers of hedges, beaten by a copy sent later to another endpoint; their
    /// true latency is unknown (the hedging delay ends about when an answer 2.5× typical would, so the second test
    /// would miss most of them). Failures do not count (they raise the estimate through <see cref="ObservePeak"/>).
    /// <para>
    /// The RTT estimate is a moving <em>geometric</em> mean, which keeps one stall from branding a replica slow — and
    /// by the same token hides a replica that answers 10% of its requests 50 ms late: its estimate moves little, so it
    /// kept a fair share and put 2% of all requests in the tail. A replica that is uniformly slower is judged by its
    /// estimate, not here (its answers are not late for <em>it</em>).
    /// </para>
    /// <para>
    /// An answer on time that comes long after the endpoint's previous sample weighs more, as samples far apart do in the
    /// RTT estimate: 1 − e^(−Δt/τ) (τ = <paramref name="decayTicks"/>, <c>PeakEwma:DecayTime</c>) when that is more than
    /// <see cref="TailSampleWeight"/>, up to <see cref="MaxOnTimeSampleWeight"/>. An endpoint kept off by its tail gets an
    /// attempt only now and then, and with every answer worth 1/128 it took up to 35 s at 80 requests a second to get
    /// its share back once the tail had ended; now a few answers on time forgive it. A late answer always weighs
    /// <see cref="TailSampleWeight"/>: one late answer after a pause never takes a healthy endpoint off its share. (Where
    /// an endpoint gets fewer than about 13 attempts a second, its tail rate so leans towards forgiveness: a replica
    /// late on 10% of its answers keeps about half its share at 80 requests a second over five replicas.)
    /// </para>
    /// </summary>
    public void ObserveTail(long elapsedTicks, long thresholdTicks, long now, double decayTicks, bool cancelled = false, double jitterTicks = 0)
    {
        var typical = Volatile.Read(ref _typical);
        var late = elapsedTicks >= thresholdTicks && (cancelled || (elapsedTicks >= LateOfTypical * typical && elapsedTicks >= typical + jitterTicks)) ? 1.0 : 0.0;
        var weight = TailSampleWeight;
        var previous = Volatile.Read(ref _tailStamp);
        Volatile.Write(ref _tailStamp, now);
        var apart = previous == 0 ? 0 : (now - previous) / decayTicks; // Δt/τ since the previous sample
        if (late == 0 && apart > TailSampleWeight)
        {
            weight = Math.Min(MaxOnTimeSampleWeight, Math.Max(weight, 1 - Math.Exp(-apart))); // as for the RTT, 1 − e^(−Δt/τ)
        }

        var rate = Volatile.Read(ref _tailRate);
        Volatile.Write(ref _tailRate, rate + (weight * (late - rate)));
    }

    /// <summary>The most an answer on time weighs in the tail rate when it comes long after the endpoint's previous sample
    /// (see <see cref="ObserveTail"/>): a 10% rate falls below the margin after six such answers.</summary>
    public const double MaxOnTimeSampleWeight = 1.0 / 8;

    /// <summary>The moving average of late attempts (<see cref="ObserveTail"/>), 0 to 1.</summary>
    public double LateShare => Volatile.Read(ref _tailRate);

    /// <summary>How much more often than expected this endpoint's attempts end in the service's tail
    /// (<see cref="ObserveTail"/>), as a factor on its RTT estimate: <c>1 + 40 × max(0, rate − 2.5% − 2.5%)</c>. 1 for
    /// a healthy endpoint (and one without tail samples yet); 3 for one whose answers are 10% late, 5 at 15%. PeakEwma
    /// multiplies the RTT estimate by it.</summary>
    public double TailFactor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            var excess = Volatile.Read(ref _tailRate) - ExpectedTailRate - TailRateMargin;
            return excess > 0 ? 1 + (TailSlope * excess) : 1;
        }
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
            ObservePeak(Math.Max(rtt, failurePenaltyTicks), now, decayTicks);
        }
        else
        {
            ObserveRtt(rtt, now, decayTicks);
        }
    }

    /// <summary>The end of a call that went on after <see cref="OnResponse"/>: no longer in flight. A failure known only
    /// now (a failing status in the trailers, a broken stream) counts, and raises the estimate to the penalty as a
    /// failed attempt does (<see cref="ObservePeak"/>).</summary>
    public void OnCallEnd(long now, double decayTicks, bool failed, double failurePenaltyTicks)
    {
        Interlocked.Decrement(ref _inFlight);
        if (failed)
        {
            Interlocked.Increment(ref _failures);
            ObservePeak(failurePenaltyTicks, now, decayTicks);
        }
    }


    /// <summary>The least weight a sample above the estimate gets in it (more while the endpoint has its first
    /// samples, or when samples are far apart in time).</summary>
    public const double MinSlowerSampleWeight = 0.2;

    /// <summary>The least weight a sample below the estimate gets in it: latency noise only ever adds delay (a stall, a
    /// GC pause, a new connection), so a faster answer is the stronger evidence.</summary>
    public const double MinFasterSampleWeight = 0.5;

    /// <summary>How many samples an estimate needs before balancers compare it with other endpoints' (see
    /// <see cref="IsRttTrusted"/>). The first requests to an endpoint pay for connection set-up, and the first ones in a
    /// process for JIT compilation too (tens to hundreds of milliseconds here); judged on such a sample, a healthy
    /// replica would look 1,000× slower and be starved of the very traffic that would correct its estimate.</summary>
    public const int TrustedAfterSamples = 8;

    /// <summary>
    /// Adds one RTT sample to the estimate: an exponentially weighted moving average of the <em>logarithm</em> of the
    /// RTT (a moving geometric mean). The sample's weight is the largest of: 1/n for the endpoint's n-th sample (so
    /// the first samples, which include connection set-up, are averaged rather than kept; see also
    /// <see cref="TrustedAfterSamples"/>); <see cref="MinSlowerSampleWeight"/> for a slower sample and
    /// <see cref="MinFasterSampleWeight"/> for a faster one; and 1 − e^(−Δt/τ), Δt being the time since the previous
    /// sample and τ = <paramref name="decayTicks"/> (Linkerd's and Finagle's time-based EWMA, which takes over when
    /// samples are seconds apart).
    /// <para>
    /// Averaging logarithms keeps one outlier from dominating: on a busy 2-core host a single 7 ms stall among 50 µs
    /// answers moves the estimate ×2.7 and the next normal answers undo it, where Finagle's peak rule (a sample above
    /// the estimate replaces it) would brand that replica 140× slower for tens of seconds and starve it of traffic. A
    /// real slowdown is followed within a few requests: samples 1,000× the estimate move it ×4, ×16, ... ×250 after
    /// five; a recovery faster still (×1,000 too slow → ×31, ×5.6, ×2.4). Failures are real signals and take effect
    /// at once (<see cref="ObservePeak"/>).
    /// </para>
    /// </summary>
    public void ObserveRtt(double rttTicks, long now, double decayTicks)
    {
        var log = Math.Log(Math.Max(rttTicks, 1.0));
        lock (_rttLock)
        {
            var samples = _rttSamples < int.MaxValue ? ++_rttSamples : _rttSamples;
            var weight = log < _logRtt ? MinFasterSampleWeight : Math.Max(1.0 / samples, MinSlowerSampleWeight);
            var typicalWeight = Math.Max(1.0 / samples, TypicalSampleWeight);
            var x = (now - _rttStamp) / decayTicks;
            if (x > 0.2)
            {
                var apart = 1 - Math.Exp(-x); // samples seconds apart (1 − e^-0.2 = 0.18 < 0.2 below that)
                weight = Math.Max(weight, apart);
                typicalWeight = Math.Max(typicalWeight, apart);
            }

            var first = _rtt <= 0; // no sample yet (perhaps failures): this one is the estimate
            _logRtt = first ? log : _logRtt + (weight * (log - _logRtt));
            _rtt = Math.Exp(_logRtt);
            _typicalLog = first ? log : _typicalLog + (typicalWeight * (log - _typicalLog));
            _typical = Math.Exp(_typicalLog);
            _rttStamp = now;
            _measured = true;
        }
    }

    /// <summary>A failure (Finagle's and Linkerd's peak): the endpoint's RTT counts as at least
    /// <paramref name="rttTicks"/> from now on, decaying with τ like an estimate that gets no sample, whatever the
    /// successes in between — so a replica failing one request in ten stays avoided, and one that failed once is
    /// back within a few τ. The estimate is trusted at once. Used for failed attempts, which count as at least
    /// <c>PeakEwma:DefaultRtt</c>.</summary>
    public void ObservePeak(double rttTicks, long now, double decayTicks)
    {
        var value = Math.Max(rttTicks, 1.0);
        lock (_rttLock)
        {
            _penalty = Math.Max(Decayed(_penalty, now - _penaltyStamp, decayTicks), value);
            _penaltyStamp = now;
            _rttSamples = Math.Max(_rttSamples, TrustedAfterSamples);
            _measured = true;
        }
    }

    /// <summary>The RTT estimate at <paramref name="now"/>: the larger of the averaged samples and the failure penalty,
    /// each decayed towards zero since it was last set (Finagle's decay on read: an endpoint that gets no traffic looks
    /// cheaper and cheaper until it is tried and measured again); meaningful once <see cref="IsMeasured"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double RttEstimate(long now, double decayTicks)
    {
        var rtt = Decayed(Volatile.Read(ref _rtt), now - Volatile.Read(ref _rttStamp), decayTicks);
        var penalty = Volatile.Read(ref _penalty);
        return penalty > rtt ? Math.Max(rtt, Decayed(penalty, now - Volatile.Read(ref _penaltyStamp), decayTicks)) : rtt;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Decayed(double value, long elapsed, double decayTicks)
    {
        if (elapsed <= 0)
        {
            return value;
        }

        // Under steady traffic the last sample is recent: e^-x ≈ 1 - x to within x²/2 (< 0.005%), without Math.Exp.
        var x = elapsed / decayTicks;
        return x < 0.01 ? value * (1 - x) : value * Math.Exp(-x);
    }

    /// <summary>For probing endpoints: takes the single probe slot.</summary>
    public bool TryTakeProbe() => Interlocked.CompareExchange(ref _probeTaken, 1, 0) == 0;

    /// <summary>Releases the probe slot (after the probe's outcome was recorded, or when probing begins).</summary>
    public void ReleaseProbe() => Volatile.Write(ref _probeTaken, 0);

    public override string ToString() => Key;
}

