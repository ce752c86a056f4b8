using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>
/// Power of two choices (Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing", 2001): draw two
/// distinct candidates and keep the better one. Needs no shared counter, so picks scale across cores.
/// <para>
/// Here the first candidate is drawn in proportion to weight (uniformly when all weights are equal) and keeps the
/// request unless the second is <em>clearly</em> better. For load that means: the first candidate's requests in
/// flight per unit of weight exceed <see cref="LoadTolerance"/> (1.5) times the second's counting this request,
/// <c>in_a / w_a &gt; 1.5 × (in_b + 1) / w_b</c>. Between endpoints that are about equally loaded, traffic therefore
/// follows the draw — the weights, exactly — at any concurrency, even when the heavier endpoint answers a little
/// slower because it carries more; and a real imbalance (a replica that stalls, holds long requests, or is slow) is
/// corrected at once. Classic P2C switches on any difference of one request, which on a busy host makes the shares
/// follow noise; Envoy's weighted least request scores hosts <c>weight / (active + 1)^bias</c> and picks among all of
/// them by earliest deadline, which needs a shared scheduler and under load gives traffic in proportion to about
/// √weight. With nothing in flight (one request at a time) every endpoint ties and the draw decides.
/// </para>
/// </summary>
internal abstract class PowerOfTwoPicker : EndpointPicker
{
    /// <summary>Requests in flight per unit of weight within this factor of each other (counting the request being
    /// placed on the second candidate) are a tie, which the first candidate wins.</summary>
    public const double LoadTolerance = 1.5;

    private readonly AliasTable? _alias;

    protected PowerOfTwoPicker(EndpointState[] endpoints, double[] weights, RandomSource random)
        : base(endpoints)
    {
        Random = random;
        Weights = weights;
        _alias = WeightMath.AllEqual(weights) ? null : new AliasTable(weights);
    }

    protected RandomSource Random { get; }

    /// <summary>The effective weights (configured weight × slow-start factor), one per endpoint.</summary>
    protected double[] Weights { get; }

    public sealed override EndpointState Pick(in PickContext context)
    {
        var n = Endpoints.Length;
        int a, b;
        if (_alias is null)
        {
            a = Random.Next(n);
            b = Random.Next(n - 1);
            if (b >= a)
            {
                b++;
            }
        }
        else
        {
            a = _alias.Sample(Random.NextDouble());
            b = _alias.Sample(Random.NextDouble());
            for (var i = 0; i < 3 && b == a; i++)
            {
                b = _alias.Sample(Random.NextDouble());
            }

            if (b == a)
            {
                b = (a + 1 + Random.Next(n - 1)) % n;
            }
        }

        return KeepFirst(a, b, context.Now) ? Endpoints[a] : Endpoints[b];
    }

    /// <summary>True to keep the first candidate <paramref name="a"/>, false to take <paramref name="b"/>.</summary>
    protected abstract bool KeepFirst(int a, int b, long now);

    /// <summary>The load rule: keep <paramref name="a"/> unless in_a / w_a &gt; <see cref="LoadTolerance"/> × (in_b + 1) / w_b,
    /// compared without division.</summary>
    protected bool KeepFirstByLoad(int a, int b) =>
        Endpoints[a].InFlight * Weights[b] <= LoadTolerance * (Endpoints[b].InFlight + 1) * Weights[a];

}

/// <summary>Least request: power of two choices on requests in flight per unit of weight, with the load rule of
/// <see cref="PowerOfTwoPicker"/>. Knows nothing of latency, so it suits long or uneven requests (streams, long
/// polls) where the time to the response headers says little about load.</summary>
internal sealed class LeastRequestPicker(EndpointState[] endpoints, double[] weights, RandomSource random) : PowerOfTwoPicker(endpoints, weights, random)
{
    protected override bool KeepFirst(int a, int b, long now) => KeepFirstByLoad(a, b);
}

/// <summary>
/// Peak-EWMA, made fair: least request per unit of weight (<see cref="PowerOfTwoPicker"/>), except that when the two
/// candidates' RTT estimates differ by clearly more than noise, the faster one usually wins.
/// <para>
/// Finagle and Linkerd compare <c>rtt × (in_flight + 1)</c> and keep the cheaper candidate. With nothing in flight
/// (one request at a time) that is the RTT alone, so a replica whose estimate is 10% higher loses every comparison and
/// gets no traffic: "always the fastest". Here:
/// <list type="bullet">
/// <item>Estimates within <see cref="LatencyTolerance"/> (1.5×) of each other are noise: the load rule decides, as
/// for least request. So equal replicas share traffic evenly and weights hold. The estimates are compared with a
/// jitter floor of 1 ms added (<see cref="JitterFloorOfDefaultRtt"/>), so sub-millisecond differences count as
/// noise too.</item>
/// <item>When the slower estimate is ρ &gt; 1.5 times the faster, and the slower candidate does not already carry
/// clearly more requests (then the load rule judges it), latency counts with probability
/// <c>1 − max(<see cref="MinExploration"/>, (1.5 / ρ)⁴)</c>: then the candidates' expected completion times per unit
/// of weight, <c>rtt × (in_flight + 1) / weight</c>, are compared with the same tolerance — the first keeps the
/// request unless its cost is more than 1.5 times the second's (so a replica that hangs, and keeps its old fast
/// estimate while its requests pile up, is still avoided, and an idle replica that fails fast is not chosen for being
/// idle). Otherwise the load rule decides. A replica 2× slower than its peers loses 68% of the comparisons it would
/// win on load, one 3× slower 94%, one 5× slower or more 99% — and is still tried now and then, so its recovery is
/// seen. (With the square instead of the fourth power a replica 2× slower lost only 44%: it kept about 0.8× of its
/// fair share on a busy host, where a millisecond of scheduling noise on both estimates brings ρ nearer 1.5.)</item>
/// </list>
/// </para>
/// <para>
/// Each estimate is multiplied by the endpoint's <see cref="EndpointState.TailFactor"/> first: 1, but 3
/// for an endpoint that answers one request in ten far later than the service's 97.5th percentile — a tail the
/// moving geometric mean hides (latency-induced probation, "The Tail at Scale").
/// </para>
/// <para>
/// An endpoint whose estimate is not trusted yet (fewer than <see cref="EndpointState.TrustedAfterSamples"/>
/// samples, the first of which pay for connection set-up) is compared on load alone, neither favoured nor avoided,
/// so a new endpoint in slow start gets exactly its ramped share. The estimate is described on
/// <see cref="EndpointState.ObserveRtt"/> (a per-sample EWMA of log RTT; failures raise it at once) and decays
/// towards zero while an endpoint gets no traffic (Finagle's decay on read), with τ = <c>PeakEwma:DecayTime</c>.
/// </para>
/// </summary>
internal sealed class PeakEwmaPicker(EndpointState[] endpoints, double[] weights, PickerSettings settings)
    : PowerOfTwoPicker(endpoints, weights, settings.RandomOrShared)
{
    /// <summary>RTT estimates within this factor of each other are treated as equal: the noise of one replica's
    /// estimate on a busy host (requests of 50 µs with stalls of milliseconds), and small real differences such as
    /// the heavier of two endpoints answering a little slower because it carries more.</summary>
    public const double LatencyTolerance = 1.5;

    /// <summary>However slow a candidate looks, latency is ignored for at least this share of its comparisons, so
    /// that an estimate stuck high (a replica that recovered, or whose first answers were slow) gets the samples that
    /// correct it (ε-greedy exploration). With n equal-weight endpoints that sends at most 1% / n of the requests to
    /// one that really is slow, and the load rule still limits its requests in flight.</summary>
    public const double MinExploration = 0.01;

    /// <summary>RTTs are compared with this added to both, in fractions of <c>PeakEwma:DefaultRtt</c> (1 ms of the default
    /// 30 ms): differences below about a millisecond are within the jitter of a network hop and of a busy host's
    /// scheduler (loopback answers of 50 µs stall for milliseconds when the host is loaded), and chasing them would
    /// cost fairness; for those, load alone decides.</summary>
    public const double JitterFloorOfDefaultRtt = 1.0 / 30;

    private readonly double _jitter = settings.JitterTicks;

    protected override bool KeepFirst(int a, int b, long now)
    {
        var first = Endpoints[a];
        var second = Endpoints[b];
        if (first.IsRttTrusted && second.IsRttTrusted)
        {
            var rttA = (first.RttEstimate(now, settings.DecayTicks) + _jitter) * first.TailFactor;
            var rttB = (second.RttEstimate(now, settings.DecayTicks) + _jitter) * second.TailFactor;
            var slower = Math.Max(rttA, rttB);
            var bar = LatencyTolerance * Math.Min(rttA, rttB);

            // Latency is consulted unless the slower candidate already carries clearly more requests than the faster
            // one (more than 1.5 × (n + 1)): then its extra latency may be the effect of its extra load (the heavier
            // endpoint of weights 1:3), and the load rule judges it (Little's law: in-flight = throughput × latency).
            var (slowerInFlight, fasterInFlight) = rttA >= rttB ? (first.InFlight, second.InFlight) : (second.InFlight, first.InFlight);
            if (slower > bar && slowerInFlight <= LoadTolerance * (fasterInFlight + 1))
            {
                // For u uniform in [0, 1): P(u ≥ ε and u × slower⁴ ≥ bar⁴) = 1 − max(ε, (1.5 / ρ)⁴).
                var u = Random.NextDouble();
                var slower2 = slower * slower;
                var bar2 = bar * bar;
                if (u >= MinExploration && u * slower2 * slower2 >= bar2 * bar2)
                {
                    // Finagle's and Linkerd's expected completion time, rtt × (in-flight + 1), per unit of weight, with
                    // the same tolerance: the first keeps the request unless its cost is more than 1.5 times the second's.
                    return rttA * (first.InFlight + 1) * Weights[b] <= LoadTolerance * rttB * (second.InFlight + 1) * Weights[a];
                }
            }
        }

        return KeepFirstByLoad(a, b);
    }
}
