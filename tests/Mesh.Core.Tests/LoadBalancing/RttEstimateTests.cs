using Mesh.Endpoints.Internal;

namespace Mesh.Tests.LoadBalancing;

/// <summary>The per-endpoint RTT estimate the PeakEwma balancer compares (<see cref="EndpointState.ObserveRtt"/>).</summary>
public sealed class RttEstimateTests
{
    private const double Tau = 10_000_000; // 10 s (the default) in 1 µs ticks

    private static EndpointState Endpoint() => new(new MeshEndpoint("http://10.0.0.1:80"));

    private static EndpointState Settled(double rtt)
    {
        var endpoint = Endpoint();
        for (var i = 0; i < 50; i++)
        {
            endpoint.ObserveRtt(rtt, 1, Tau);
        }

        return endpoint;
    }

    [Fact]
    public void The_first_samples_are_averaged_geometrically()
    {
        var endpoint = Endpoint();

        endpoint.ObserveRtt(10_000, 1, Tau); // a first request that paid for the connection
        endpoint.ObserveRtt(100, 1, Tau);

        Assert.Equal(1000, endpoint.RttEstimate(1, Tau), 6); // √(10,000 × 100)
    }

    [Fact]
    public void A_slower_sample_moves_the_estimate_a_fifth_of_the_way_in_log_scale()
    {
        var endpoint = Settled(100);

        endpoint.ObserveRtt(10_000, 1, Tau);

        Assert.Equal(100 * Math.Pow(100, 0.2), endpoint.RttEstimate(1, Tau), 6); // ×2.5, not ×100 as a peak would
    }

    [Fact]
    public void A_real_slowdown_shows_within_a_few_samples()
    {
        var endpoint = Settled(100);
        var estimates = new List<double>();

        for (var i = 0; i < 5; i++)
        {
            endpoint.ObserveRtt(100_000, 1, Tau); // 1,000× slower
            estimates.Add(endpoint.RttEstimate(1, Tau) / 100);
        }

        Assert.Equal([Math.Pow(1000, 0.2), Math.Pow(1000, 1 - Math.Pow(0.8, 2)), Math.Pow(1000, 1 - Math.Pow(0.8, 3)), Math.Pow(1000, 1 - Math.Pow(0.8, 4)), Math.Pow(1000, 1 - Math.Pow(0.8, 5))], estimates, (x, y) => Math.Abs(x - y) < 1e-6);
    }

    [Fact]
    public void A_faster_sample_moves_the_estimate_half_way_in_log_scale()
    {
        var endpoint = Settled(10_000);

        endpoint.ObserveRtt(100, 1, Tau);

        Assert.Equal(1000, endpoint.RttEstimate(1, Tau), 6);
    }

    [Fact]
    public void Samples_far_apart_in_time_weigh_more()
    {
        var endpoint = Settled(100);

        endpoint.ObserveRtt(10_000, 1 + (long)Tau, Tau); // Δt = τ: weight 1 − e^-1 = 0.63

        Assert.Equal(100 * Math.Pow(100, 1 - Math.Exp(-1)), endpoint.RttEstimate(1 + (long)Tau, Tau), 6);
    }

    [Fact]
    public void A_failure_raises_the_estimate_at_once_and_is_trusted_at_once()
    {
        var endpoint = Endpoint();
        endpoint.ObserveRtt(100, 1, Tau);

        endpoint.OnRequestStart();
        endpoint.OnRequestEnd(start: 1, now: 101, Tau, failed: true, failurePenaltyTicks: 30_000);

        Assert.Equal(30_000, endpoint.RttEstimate(101, Tau));
        Assert.True(endpoint.IsRttTrusted);
    }

    [Fact]
    public void A_failure_outlasts_the_successes_that_follow_and_decays_with_tau()
    {
        var endpoint = Settled(100);
        endpoint.ObservePeak(30_000, 1, Tau);

        for (var i = 0; i < 20; i++)
        {
            endpoint.ObserveRtt(100, 1, Tau); // fast answers right after the failure
        }

        var atOnce = endpoint.RttEstimate(1, Tau);
        var estimates = new List<double>();
        for (var half = 1; half <= 16; half++)
        {
            var now = 1 + (long)(half * Tau / 2);
            endpoint.ObserveRtt(100, now, Tau); // traffic goes on: an answer every τ/2
            estimates.Add(endpoint.RttEstimate(now, Tau));
        }

        Assert.Equal(30_000, atOnce, 6);
        Assert.Equal(30_000 / Math.E, estimates[1], 6);   // after τ: the penalty, decayed
        Assert.Equal(100, estimates[15], 6);               // after 8 τ: 30,000 e^-8 = 10 < 100, the answers count again
    }

    [Fact]
    public void An_endpoint_whose_first_attempts_failed_is_measured_from_its_first_success()
    {
        var endpoint = Endpoint();
        endpoint.ObservePeak(30_000, 1, Tau);

        endpoint.ObserveRtt(100, 1 + (long)(20 * Tau), Tau);

        Assert.Equal(100, endpoint.RttEstimate(1 + (long)(20 * Tau), Tau), 6);
    }

    [Fact]
    public void An_estimate_is_trusted_after_eight_samples()
    {
        var endpoint = Endpoint();
        var trusted = new List<bool>();
        for (var i = 0; i < 8; i++)
        {
            endpoint.ObserveRtt(100, 1, Tau);
            trusted.Add(endpoint.IsRttTrusted);
        }

        Assert.Equal([false, false, false, false, false, false, false, true], trusted);
        Assert.True(endpoint.IsMeasured);
    }

    [Fact]
    public void The_estimate_decays_towards_zero_while_no_sample_arrives()
    {
        var endpoint = Settled(1000);

        Assert.Equal(1000 / Math.E, endpoint.RttEstimate(1 + (long)Tau, Tau), 6);
    }
}
