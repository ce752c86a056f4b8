using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;

namespace Mesh.Tests.Health;

/// <summary>The outlier detector alone: signals from outcomes (lock-free), decisions with a cause kind, on endpoint
/// states built directly (no service, no clock but plain numbers).</summary>
public sealed class OutlierDetectorTests
{
    private const double Frequency = 1000; // one tick per millisecond

    private static OutlierSettings Settings(int consecutive = 5, int maxEjectionPercent = 50, int rateThreshold = 0, int rateMinimum = 20,
        OutlierFailureKinds kinds = OutlierFailureKinds.ConnectionFailure | OutlierFailureKinds.Timeout | OutlierFailureKinds.ServerError) =>
        new(consecutive, kinds, rateThreshold, rateMinimum, FailureRateHalfWindowTicks: 5_000,
            BaseEjectionTime: TimeSpan.FromSeconds(30), MaxEjectionTime: TimeSpan.FromSeconds(300), BaseEjectionTicks: 30_000, maxEjectionPercent);

    private static readonly SlowStartSettings NoSlowStart = new(0, 0.1, 1, 1000);

    private static EndpointState[] Endpoints(int count) =>
        [.. Enumerable.Range(1, count).Select(i => new EndpointState(new MeshEndpoint($"http://10.0.0.{i}:80")))];

    private static OutlierSignal Observe(EndpointState e, RequestOutcome outcome, in OutlierSettings settings, bool isProbe = false, long now = 1) =>
        OutlierDetector.Observe(e, outcome, isProbe, "connection refused", now, settings);

    [Fact]
    public void The_fifth_consecutive_counted_failure_signals_and_the_fourth_does_not()
    {
        var e = Endpoints(1)[0];
        var settings = Settings();

        var signals = Enumerable.Range(0, 5).Select(_ => Observe(e, RequestOutcome.ServerError, settings).Kind).ToList();

        Assert.Equal([OutlierSignalKind.None, OutlierSignalKind.None, OutlierSignalKind.None, OutlierSignalKind.None, OutlierSignalKind.ConsecutiveFailures], signals);
        Assert.Equal(5, e.Outlier.ConsecutiveFailures);
        Assert.Equal("connection refused", e.Outlier.LastFailure);
    }

    [Fact]
    public void Outcomes_outside_FailureKinds_neither_count_nor_reset_the_streak()
    {
        var e = Endpoints(1)[0];
        var settings = Settings(kinds: OutlierFailureKinds.ConnectionFailure);
        Observe(e, RequestOutcome.ConnectionFailure, settings);

        Assert.Equal(OutlierSignalKind.None, Observe(e, RequestOutcome.ServerError, settings).Kind);
        Assert.Equal(OutlierSignalKind.None, Observe(e, RequestOutcome.Cancellation, settings).Kind);
        Assert.Equal(1, e.Outlier.ConsecutiveFailures);
        Observe(e, RequestOutcome.Success, settings);
        Assert.Equal(0, e.Outlier.ConsecutiveFailures);
    }

    [Fact]
    public void An_ejection_records_its_cause_as_a_kind_and_lasts_the_base_time()
    {
        var all = Endpoints(3);
        var settings = Settings();
        var signal = new OutlierSignal(OutlierSignalKind.ConsecutiveFailures, "HTTP 503", 5);

        var decision = OutlierDetector.Decide(all[0], signal, all, now: 1_000, settings, NoSlowStart, Frequency);

        Assert.Equal(OutlierAction.Ejected, decision.Action);
        Assert.Equal(HealthReasonKind.ConsecutiveFailures, decision.Reason!.Kind);
        Assert.Equal("5 consecutive failures (last: HTTP 503)", decision.Reason.Text);
        Assert.Equal(TimeSpan.FromSeconds(30), decision.Duration);
        Assert.Equal(EndpointStatus.Ejected, all[0].Status);
        Assert.Equal(31_000, all[0].Outlier.EjectedUntil);
    }

    [Fact]
    public void MaxEjectionPercent_limits_with_a_kind_not_a_text_marker_and_a_success_clears_it()
    {
        var all = Endpoints(2);
        var settings = Settings(maxEjectionPercent: 10); // 10% of 2 rounds down, but one may always be ejected
        var signal = new OutlierSignal(OutlierSignalKind.ConsecutiveFailures, "HTTP 503", 5);
        Assert.Equal(OutlierAction.Ejected, OutlierDetector.Decide(all[0], signal, all, 0, settings, NoSlowStart, Frequency).Action);

        var first = OutlierDetector.Decide(all[1], signal, all, 0, settings, NoSlowStart, Frequency);
        var second = OutlierDetector.Decide(all[1], signal, all, 0, settings, NoSlowStart, Frequency);

        Assert.Equal((OutlierAction.Limited, true), (first.Action, first.FirstTime));
        Assert.Equal((OutlierAction.Limited, false), (second.Action, second.FirstTime));
        Assert.Equal(EndpointStatus.Active, all[1].Status);
        Assert.Equal(HealthReasonKind.EjectionLimited, all[1].Reason!.Kind);

        var recovered = Observe(all[1], RequestOutcome.Success, settings);
        Assert.Equal(OutlierSignalKind.Recovered, recovered.Kind);
        OutlierDetector.Decide(all[1], recovered, all, 0, settings, NoSlowStart, Frequency);
        Assert.Null(all[1].Reason);
    }

    [Fact]
    public void A_failed_probe_ejects_again_for_twice_as_long_whatever_the_ejection_limit()
    {
        var all = Endpoints(2);
        var settings = Settings(maxEjectionPercent: 0);
        var e = all[0];
        OutlierDetector.Decide(e, new OutlierSignal(OutlierSignalKind.ConsecutiveFailures, "x", 5), all, 0, Settings(), NoSlowStart, Frequency);
        Assert.True(OutlierDetector.TryBeginProbing(e, now: 30_000));
        Assert.Equal(HealthReasonKind.Probing, e.Reason!.Kind);

        var decision = OutlierDetector.Decide(e, Observe(e, RequestOutcome.ConnectionFailure, settings, isProbe: true), all, 30_000, settings, NoSlowStart, Frequency);

        Assert.Equal(OutlierAction.Ejected, decision.Action);
        Assert.Equal(HealthReasonKind.ProbeFailed, decision.Reason!.Kind);
        Assert.Equal(TimeSpan.FromSeconds(60), decision.Duration);
        Assert.Equal(2, decision.EjectionsInARow);
    }

    [Fact]
    public void A_successful_probe_returns_the_endpoint_and_starts_its_ramp()
    {
        var all = Endpoints(3);
        var e = all[2];
        var slowStart = new SlowStartSettings(10_000, 0.1, 1, 1000);
        OutlierDetector.Decide(e, new OutlierSignal(OutlierSignalKind.ConsecutiveFailures, "x", 5), all, 0, Settings(), slowStart, Frequency);
        Assert.False(OutlierDetector.TryBeginProbing(e, now: 29_999));
        Assert.True(OutlierDetector.TryBeginProbing(e, now: 30_000));

        var decision = OutlierDetector.Decide(e, Observe(e, RequestOutcome.Success, Settings(), isProbe: true), all, 30_500, Settings(), slowStart, Frequency);

        Assert.Equal(OutlierAction.Returned, decision.Action);
        Assert.Equal(EndpointStatus.Active, e.Status);
        Assert.Null(e.Reason);
        Assert.Equal(30_500, e.SlowStartBegin);
        Assert.Equal(30_500, e.Outlier.ReturnedAt);
    }

    [Fact]
    public void The_failure_rate_rule_signals_once_the_minimum_volume_is_reached()
    {
        var e = Endpoints(1)[0];
        var settings = Settings(consecutive: 0, rateThreshold: 50, rateMinimum: 10);
        var kinds = new List<OutlierSignalKind>();
        for (var i = 0; i < 10; i++)
        {
            kinds.Add(Observe(e, i % 2 == 0 ? RequestOutcome.Success : RequestOutcome.ServerError, settings, now: 100 + i).Kind);
        }

        Assert.Equal(9, kinds.Count(k => k == OutlierSignalKind.None));
        Assert.Equal(OutlierSignalKind.FailureRate, kinds[^1]);
    }

    [Fact]
    public void A_decision_about_an_endpoint_that_left_the_set_does_nothing()
    {
        var all = Endpoints(3);
        var gone = new EndpointState(new MeshEndpoint("http://10.0.0.9:80"));

        var decision = OutlierDetector.Decide(gone, new OutlierSignal(OutlierSignalKind.ConsecutiveFailures, "x", 5), all, 0, Settings(), NoSlowStart, Frequency);

        Assert.Equal(OutlierAction.None, decision.Action);
        Assert.Equal(EndpointStatus.Active, gone.Status);
    }
}
