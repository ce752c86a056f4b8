using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;
using Mesh.LoadBalancing.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Tests.Health;

/// <summary>Passive outlier detection, probes, panic mode and slow start, on a fake clock.</summary>
public sealed class OutlierDetectionTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly List<MeshEndpointHealthChangedEventArgs> _events = [];

    private ServiceRuntime Service(int endpoints, Action<MeshServiceOptions>? configure = null)
    {
        var options = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.RoundRobin };
        for (var i = 0; i < endpoints; i++)
        {
            options.Endpoints.Add(new MeshEndpointOptions { Address = $"http://10.0.0.{i + 1}:80" });
        }

        configure?.Invoke(options);
        var env = new MeshEnvironment(_time);
        env.HealthChanged += _events.Add;
        var service = new ServiceRuntime("catalog", env, options, zone: null);
        service.Configure(options, zone: null);
        return service;
    }

    private static EndpointState Pick(ServiceRuntime service) => service.Pick(new PickContext(service.Now(), 0, false, 0), null, out _);

    private static void Fail(ServiceRuntime service, EndpointState endpoint, RequestOutcome outcome = RequestOutcome.ConnectionFailure, int times = 1)
    {
        for (var i = 0; i < times; i++)
        {
            service.OnOutcome(endpoint, outcome, isProbe: false, failure: "connection refused");
        }
    }

    private static MeshEndpointHealth HealthOf(ServiceRuntime service, EndpointState endpoint) =>
        service.CreateSnapshot().Endpoints.Single(e => e.Endpoint.Key == endpoint.Key).Health;

    [Fact]
    public void An_endpoint_is_ejected_after_ConsecutiveFailures_and_not_before()
    {
        var service = Service(3);
        var bad = service.Endpoints[0];

        Fail(service, bad, times: 4);
        Assert.Equal(MeshEndpointHealth.Healthy, HealthOf(service, bad));
        Fail(service, bad);

        Assert.Equal(MeshEndpointHealth.Ejected, HealthOf(service, bad));
        Assert.DoesNotContain(bad, Enumerable.Range(0, 100).Select(_ => Pick(service)));
        var change = Assert.Single(_events);
        Assert.Equal((MeshEndpointHealth.Healthy, MeshEndpointHealth.Ejected), (change.Previous, change.Current));
        Assert.Contains("5 consecutive failures (last: connection refused)", change.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_success_resets_the_failure_streak()
    {
        var service = Service(3);
        var endpoint = service.Endpoints[0];

        Fail(service, endpoint, times: 4);
        service.OnOutcome(endpoint, RequestOutcome.Success, false, null);
        Fail(service, endpoint, times: 4);

        Assert.Equal(MeshEndpointHealth.Healthy, HealthOf(service, endpoint));
    }

    [Theory]
    [InlineData((int)RequestOutcome.ServerError, true)]
    [InlineData((int)RequestOutcome.Timeout, true)]
    [InlineData((int)RequestOutcome.Cancellation, false)]
    public void Which_outcomes_count_follows_FailureKinds(int outcome, bool ejects)
    {
        var service = Service(3);
        var endpoint = service.Endpoints[0];

        Fail(service, endpoint, (RequestOutcome)outcome, times: 5);

        Assert.Equal(ejects ? MeshEndpointHealth.Ejected : MeshEndpointHealth.Healthy, HealthOf(service, endpoint));
    }

    [Fact]
    public void Ejection_time_is_base_times_ejections_in_a_row_capped_at_the_maximum()
    {
        var service = Service(3, o =>
        {
            o.OutlierDetection.BaseEjectionTime = TimeSpan.FromSeconds(30);
            o.OutlierDetection.MaxEjectionTime = TimeSpan.FromSeconds(75);
        });
        var endpoint = service.Endpoints[0];
        Fail(service, endpoint, times: 5);
        var durations = new List<TimeSpan>();

        for (var round = 0; round < 4; round++)
        {
            var until = service.CreateSnapshot().Endpoints[0].EjectedUntil!.Value;
            durations.Add(until - _time.GetUtcNow());
            _time.Advance(until - _time.GetUtcNow());
            Assert.Equal(MeshEndpointHealth.Probing, HealthOf(service, endpoint));
            TakeProbe(service, endpoint);
            service.OnOutcome(endpoint, RequestOutcome.ConnectionFailure, isProbe: true, failure: "still refused");
        }

        Assert.Equal([TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(75), TimeSpan.FromSeconds(75)], durations);
    }

    private static void TakeProbe(ServiceRuntime service, EndpointState endpoint)
    {
        for (var i = 0; i < 1000; i++)
        {
            var picked = service.Pick(new PickContext(service.Now(), 0, false, 0), null, out var isProbe);
            if (ReferenceEquals(picked, endpoint))
            {
                Assert.True(isProbe);
                return;
            }
        }

        Assert.Fail("the probing endpoint was never picked");
    }

    [Fact]
    public void After_the_ejection_a_single_probe_decides_and_success_returns_the_endpoint()
    {
        var service = Service(3, o => o.SlowStart.Window = TimeSpan.Zero);
        var endpoint = service.Endpoints[1];
        Fail(service, endpoint, times: 5);
        _time.Advance(TimeSpan.FromSeconds(30));

        TakeProbe(service, endpoint);
        var duringProbe = Enumerable.Range(0, 300).Count(_ => ReferenceEquals(Pick(service), endpoint));
        service.OnOutcome(endpoint, RequestOutcome.Success, isProbe: true, failure: null);

        Assert.Equal(0, duringProbe); // only one request at a time may probe
        Assert.Equal(MeshEndpointHealth.Healthy, HealthOf(service, endpoint));
        Assert.Contains(_events, e => e.Current == MeshEndpointHealth.Healthy && e.Reason == "probe request succeeded");
        Assert.Contains(endpoint, Enumerable.Range(0, 30).Select(_ => Pick(service)));
    }

    [Fact]
    public void A_failed_probe_after_an_earlier_return_still_doubles_the_ejection_time()
    {
        var service = Service(3, o => o.SlowStart.Window = TimeSpan.Zero);
        var endpoint = service.Endpoints[0];
        Fail(service, endpoint, times: 5);
        _time.Advance(TimeSpan.FromSeconds(30));
        TakeProbe(service, endpoint);
        service.OnOutcome(endpoint, RequestOutcome.Success, isProbe: true, failure: null);
        _time.Advance(TimeSpan.FromMinutes(5)); // serves normally for a long while

        Fail(service, endpoint, times: 5);
        var first = service.CreateSnapshot().Endpoints[0].EjectedUntil!.Value - _time.GetUtcNow();
        _time.Advance(first);
        TakeProbe(service, endpoint);
        service.OnOutcome(endpoint, RequestOutcome.ConnectionFailure, isProbe: true, failure: "refused");
        var second = service.CreateSnapshot().Endpoints[0].EjectedUntil!.Value - _time.GetUtcNow();

        Assert.Equal(TimeSpan.FromSeconds(30), first);   // a fresh start after the healthy period
        Assert.Equal(TimeSpan.FromSeconds(60), second);  // but the failed probe is the second ejection in a row
    }

    [Fact]
    public void MaxEjectionPercent_limits_ejections_but_always_allows_one()
    {
        var service = Service(4, o => o.OutlierDetection.MaxEjectionPercent = 10);

        foreach (var endpoint in service.Endpoints)
        {
            Fail(service, endpoint, times: 5);
        }

        Assert.Equal(1, service.CreateSnapshot().Endpoints.Count(e => e.Health == MeshEndpointHealth.Ejected));
        Assert.Contains(service.CreateSnapshot().Endpoints, e => e.Reason?.Contains("MaxEjectionPercent is reached", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void Failure_rate_rule_ejects_once_the_minimum_volume_is_reached()
    {
        var service = Service(3, o =>
        {
            o.OutlierDetection.ConsecutiveFailures = 0;
            o.OutlierDetection.FailureRateThreshold = 50;
            o.OutlierDetection.FailureRateMinimumRequests = 20;
        });
        var endpoint = service.Endpoints[0];

        for (var i = 0; i < 9; i++)
        {
            service.OnOutcome(endpoint, RequestOutcome.Success, false, null);
            Fail(service, endpoint);
        }

        Assert.Equal(MeshEndpointHealth.Healthy, HealthOf(service, endpoint)); // 18 requests: below the volume
        service.OnOutcome(endpoint, RequestOutcome.Success, false, null);
        Fail(service, endpoint);
        Assert.Equal(MeshEndpointHealth.Ejected, HealthOf(service, endpoint));
    }

    [Fact]
    public void Panic_mode_balances_over_all_endpoints_when_too_few_are_healthy()
    {
        var service = Service(4, o =>
        {
            o.OutlierDetection.MaxEjectionPercent = 100;
            o.PanicThreshold = 50;
        });
        Fail(service, service.Endpoints[0], times: 5);
        Fail(service, service.Endpoints[1], times: 5);
        Assert.False(service.Snapshot.Panic); // 2 of 4 healthy: exactly the threshold

        Fail(service, service.Endpoints[2], times: 5);

        Assert.True(service.Snapshot.Panic);
        Assert.Equal(4, Enumerable.Range(0, 400).Select(_ => Pick(service)).Distinct().Count());
        Assert.True(service.CreateSnapshot().PanicMode);
    }

    [Fact]
    public void Slow_start_ramps_a_returning_endpoint_from_the_minimum_to_its_full_weight()
    {
        var service = Service(2, o =>
        {
            o.LoadBalancer = LoadBalancerKind.Random;
            o.SlowStart.Window = TimeSpan.FromSeconds(10);
            o.SlowStart.MinWeightPercent = 10;
        });
        var endpoint = service.Endpoints[0];
        Fail(service, endpoint, times: 5);
        _time.Advance(TimeSpan.FromSeconds(30));
        TakeProbe(service, endpoint);
        service.OnOutcome(endpoint, RequestOutcome.Success, isProbe: true, failure: null);

        double Share() => Enumerable.Range(0, 20_000).Count(_ => ReferenceEquals(Pick(service), endpoint)) / 20_000.0;
        var atStart = Share();
        _time.Advance(TimeSpan.FromSeconds(5));
        var halfway = Share();
        _time.Advance(TimeSpan.FromSeconds(6));
        var after = Share();

        Assert.Equal(MeshEndpointHealth.Healthy, HealthOf(service, endpoint));
        Assert.InRange(atStart, 0.07, 0.11);   // weight 0.1 vs 1
        Assert.InRange(halfway, 0.30, 0.37);   // weight 0.5 vs 1
        Assert.InRange(after, 0.47, 0.53);     // full weight
    }

    [Fact]
    public void Picking_allocates_nothing()
    {
        foreach (var kind in Enum.GetValues<LoadBalancerKind>())
        {
            var service = Service(100, o => o.LoadBalancer = kind);
            var context = new PickContext(service.Now(), 12345, kind == LoadBalancerKind.ConsistentHash, 0);
            for (var i = 0; i < 1000; i++)
            {
                service.Pick(context, null, out _);
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 10_000; i++)
            {
                var endpoint = service.Pick(context, null, out _);
                endpoint.OnRequestStart();
                endpoint.OnRequestEnd(context.Now, context.Now + 1000, service.Settings.Picker.DecayTicks, failed: false);
                service.OnOutcome(endpoint, RequestOutcome.Success, false, null);
            }

            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }
}
