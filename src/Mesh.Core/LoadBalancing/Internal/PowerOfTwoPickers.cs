using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>
/// Power of two choices: draw two distinct candidates (uniformly, or in proportion to weight when weights differ)
/// and keep the one with the lower cost. Needs no shared counter, so picks scale across cores.
/// </summary>
internal abstract class PowerOfTwoPicker : EndpointPicker
{
    private readonly AliasTable? _alias;

    protected PowerOfTwoPicker(EndpointState[] endpoints, double[] weights)
        : base(endpoints)
    {
        Weights = weights;
        EqualWeights = WeightMath.AllEqual(weights);
        _alias = EqualWeights ? null : new AliasTable(weights);
    }

    protected double[] Weights { get; }

    protected bool EqualWeights { get; }

    public sealed override EndpointState Pick(in PickContext context)
    {
        var n = Endpoints.Length;
        int a, b;
        if (_alias is null)
        {
            a = System.Random.Shared.Next(n);
            b = System.Random.Shared.Next(n - 1);
            if (b >= a)
            {
                b++;
            }
        }
        else
        {
            a = _alias.Sample();
            b = _alias.Sample();
            for (var i = 0; i < 3 && b == a; i++)
            {
                b = _alias.Sample();
            }

            if (b == a)
            {
                b = (a + 1 + System.Random.Shared.Next(n - 1)) % n;
            }
        }

        return Better(a, b, context.Now) ? Endpoints[a] : Endpoints[b];
    }

    /// <summary>True when candidate <paramref name="a"/> is at least as good as <paramref name="b"/>.</summary>
    protected abstract bool Better(int a, int b, long now);
}

/// <summary>Least request: fewer in-flight requests per unit of weight wins; ties go to the first candidate, which was
/// drawn in proportion to weight. So idle endpoints receive traffic exactly in proportion to their weights (as with
/// Envoy's weighted least request), and under load each endpoint's in-flight count is pulled towards its weight share.</summary>
internal sealed class LeastRequestPicker(EndpointState[] endpoints, double[] weights) : PowerOfTwoPicker(endpoints, weights)
{
    protected override bool Better(int a, int b, long now)
    {
        var inA = Endpoints[a].InFlight;
        var inB = Endpoints[b].InFlight;
        return EqualWeights ? inA <= inB : inA * Weights[b] <= inB * Weights[a];
    }
}

/// <summary>
/// Peak-EWMA (Finagle, Linkerd): cost = RTT estimate × (in-flight + 1). The estimate jumps to any slower sample at once
/// and decays towards faster ones with τ = <c>PeakEwma:DecayTime</c>. An endpoint with no sample yet and nothing in
/// flight costs 0 (it is tried, and so measured, as soon as it is drawn); with requests in flight it costs
/// <c>PeakEwma:DefaultRtt</c>. Weights (and slow start) decide how often an endpoint is drawn as a candidate; latency
/// and load decide between the two candidates.
/// </summary>
internal sealed class PeakEwmaPicker(EndpointState[] endpoints, double[] weights, PickerSettings settings) : PowerOfTwoPicker(endpoints, weights)
{
    protected override bool Better(int a, int b, long now) => Cost(a, now) <= Cost(b, now);

    private double Cost(int i, long now)
    {
        var endpoint = Endpoints[i];
        var inFlight = endpoint.InFlight;
        double rtt;
        if (endpoint.IsMeasured)
        {
            rtt = endpoint.RttEstimate(now, settings.DecayTicks);
        }
        else if (inFlight == 0)
        {
            return 0;
        }
        else
        {
            rtt = settings.DefaultRttTicks;
        }

        return rtt * (inFlight + 1);
    }
}
