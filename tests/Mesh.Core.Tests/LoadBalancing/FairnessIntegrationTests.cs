using System.Diagnostics;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;

namespace Mesh.Tests.LoadBalancing;

/// <summary>
/// Issue 16, as a user meets it: the load-aware balancers (PeakEwma, the default, and LeastRequest) against real
/// Kestrel replicas, configured the way docs/configuration.md says. Shares are checked with the issue's tolerances;
/// nothing here asserts a latency (the latency goals are shown by the load bench, bench/README.md).
/// </summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class FairnessIntegrationTests
{
    public static TheoryData<string?, int, int> EqualReplicaCases()
    {
        var data = new TheoryData<string?, int, int>();
        foreach (var balancer in new[] { null, "LeastRequest" })
        {
            foreach (var replicas in new[] { 2, 3, 5 })
            {
                foreach (var concurrency in new[] { 1, 4, 16 })
                {
                    data.Add(balancer, replicas, concurrency);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EqualReplicaCases))]
    public async Task Equal_replicas_each_get_an_even_share_within_25_percent(string? balancer, int replicas, int concurrency)
    {
        await using var fleet = await BalancedFleet.StartAsync(balancer, [.. Enumerable.Repeat(1, replicas)]);

        var report = await fleet.SendAsync(concurrency >= 16 ? 10_000 : 3000, concurrency);

        Shares.AssertProportional(report, [.. Enumerable.Repeat(1, replicas)], tolerance: 0.25);
    }

    public static TheoryData<string?, int[], int> WeightCases()
    {
        var data = new TheoryData<string?, int[], int>();
        foreach (var balancer in new[] { null, "LeastRequest" })
        {
            foreach (var weights in new[] { new[] { 1, 3 }, new[] { 1, 2, 3 } })
            {
                foreach (var concurrency in new[] { 1, 16 })
                {
                    data.Add(balancer, weights, concurrency);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(WeightCases))]
    public async Task Equal_replicas_with_weights_get_traffic_within_15_percent_of_the_weight_ratio(string? balancer, int[] weights, int concurrency)
    {
        await using var fleet = await BalancedFleet.StartAsync(balancer, weights);

        // At 16 concurrent, 60,000 requests (about 2 s): a stall of the host for a few tens of milliseconds moves the
        // traffic of that moment to the other replica (the balancer sees one slow), which in 20,000 requests (0.7 s)
        // was once enough to put the lighter one at 29.6% of 1:3 in a full run.
        var report = await fleet.SendAsync(concurrency >= 16 ? 60_000 : 4000, concurrency);

        Shares.AssertProportional(report, weights, tolerance: 0.15);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("LeastRequest")]
    public async Task An_endpoint_added_to_a_busy_service_ramps_up_over_the_slow_start_window(string? balancer)
    {
        await using var fleet = await BalancedFleet.StartAsync(balancer, [1, 1], new() { ["SlowStart:Window"] = "00:00:04" });
        await using var added = await Mesh.Testing.InProcessReplica.StartAsync("r2", cancellationToken: TestContext.Current.CancellationToken);
        await fleet.SendAsync(300, 1);
        var since = Stopwatch.StartNew();

        fleet.Configuration["Mesh:Services:catalog:Endpoints:2:Address"] = added.Address.ToString().TrimEnd('/');
        fleet.Configuration.Reload();
        var early = await fleet.SendAsync(200, 1);
        var earlyTime = since.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, 4.2 - since.Elapsed.TotalSeconds)), TestContext.Current.CancellationToken);
        var after = await fleet.SendAsync(3000, 1); // 1,500 once gave the new one 24.2% in a full run (±25% of a third: 25%)

        // Early in the 4 s window its weight is max(10%, t / 4 s) of a full one: well under a third of the traffic.
        Assert.True(early.ShareOf("r2") < 0.2, $"in the first {earlyTime.TotalSeconds:F2} s of its slow start the new endpoint took {early.ShareOf("r2"):P0}: {early}");
        Assert.True(early.CountOf("r2") > 0, "the new endpoint got no request at all during its slow start");
        Shares.AssertProportional(after, [1, 1, 1], tolerance: 0.25);
    }

    [Theory]
    [InlineData(null)]
    public async Task A_replica_twice_as_slow_as_the_others_gets_clearly_less_than_its_fair_share(string? balancer)
    {
        await using var fleet = await BalancedFleet.StartAsync(balancer, [1, 1, 1, 1, 1]);
        for (var i = 0; i < 4; i++)
        {
            fleet.Replicas[i].Behavior.Latency = TimeSpan.FromMilliseconds(10);
        }

        fleet.Replicas[4].Behavior.Latency = TimeSpan.FromMilliseconds(20);

        // 10 ms against 20 ms: the replicas sleep on .NET timers, which end on the kernel's 4 ms tick, so 4 ms against
        // 8 ms (as this test had it) was in fact about 6 against 10 — a ratio near the balancer's 1.5x latency
        // tolerance, which a loaded machine's extra milliseconds on both pushed under it (it failed in full runs).
        // 1,000 requests: the share's standard error is about 1 point.
        var report = await fleet.SendAsync(1000, 1);

        // Fair share: 20%. "Clearly less": under 85% of it (typically 55–75%, see bench/README.md); and it is still measured (not abandoned). One request at a
        // time, so that latency alone decides (under concurrency its requests also stay in flight longer).
        var share = report.ShareOf("r4");
        TestContext.Current.SendDiagnosticMessage($"the 2x slower replica got {share:P1}: {report}");
        Assert.True(share < 0.85 * 0.2, $"the 2x slower replica got {share:P1}: {report}");
        Assert.True(share > 0.02, $"the 2x slower replica was abandoned ({share:P1}): {report}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_replica_that_answers_one_request_in_ten_50_ms_late_gets_clearly_less_than_its_fair_share(bool meshHedging)
    {
        // A tail, not a slower replica: r4 answers as fast as the others except every tenth request, 50 ms late. Its
        // moving geometric mean barely moves; the share of its answers in the service's tail does (Dean and Barroso's
        // latency-induced probation). With mesh-aware hedging its late answers are cancelled when a hedge wins: they
        // still count as late.
        await using var fleet = await BalancedFleet.StartAsync(null, [1, 1, 1, 1, 1], meshHedging: meshHedging);
        fleet.Replicas[4].Behavior.Latency = TimeSpan.FromMilliseconds(50);
        fleet.Replicas[4].Behavior.LatencyRate = 0.1;
        _ = await fleet.SendAsync(2000, 4); // the service's tail threshold needs 200 attempts, then r4's late share ~128 of its own

        var report = await fleet.SendAsync(2000, 4);

        var share = report.ShareOf("r4");
        var late = fleet.Endpoint(4).LateShare;
        var othersLate = Enumerable.Range(0, 4).Average(i => fleet.Endpoint(i).LateShare);
        TestContext.Current.SendDiagnosticMessage($"hedging {meshHedging}: the replica with a 10% tail got {share:P1}, late share {late:P1} (others {othersLate:P1} on average): {report}");
        Assert.True(share < 0.5 * 0.2, $"the replica with a 10% tail got {share:P1} (fair: 20%): {report}");

        // What MeshMonitor shows: its late answers above the other replicas' (0–4.5%; with hedging their lost hedges
        // count too). Against their average, not the highest: answers of 40 µs make any stall of the host late, and one
        // replica caught by a few stalls once reached 10.1% in a full run. Not against a fixed level: the moving average
        // of its last ~128 attempts starts at zero, and the fewer requests the balancer sends it (1–2% of 4,000 in some
        // runs, about 5 late answers) the further it is from its true 10% (4.9% in one run; 6–10% in most).
        Assert.True(late > othersLate, $"r4's late share is {late:P1}, the others' {othersLate:P1} on average");
    }

    [Fact]
    public async Task A_replica_whose_answers_are_sometimes_half_a_millisecond_slower_keeps_its_fair_share()
    {
        // Not a tail: r4 answers every tenth request about 0.5 ms later than usual — what a busy host's scheduler does to
        // a replica process now and then. Its answers take ~0.1 ms, so those are five times its typical time and above
        // the service's p97.5; counted as late answers they put it on probation (a tenth of its answers: 3× its cost)
        // and it lost most of its share, for a difference below the 1 ms PeakEwma treats as noise.
        await using var fleet = await BalancedFleet.StartAsync(null, [1, 1, 1, 1, 1], replicaOptions: i => i != 4 ? null : new InProcessReplicaOptions
        {
            ConfigureApp = app =>
            {
                var count = 0;
                app.Use((context, next) =>
                {
                    if (Interlocked.Increment(ref count) % 10 == 0)
                    {
                        var until = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 2000); // 0.5 ms
                        while (Stopwatch.GetTimestamp() < until)
                        {
                            Thread.SpinWait(20);
                        }
                    }

                    return next(context);
                });
            },
        });
        _ = await fleet.SendAsync(2000, 1); // the service's tail threshold needs 200 attempts, then r4's late share ~128 of its own

        var report = await fleet.SendAsync(3000, 1);

        TestContext.Current.SendDiagnosticMessage($"r4 got {report.ShareOf("r4"):P1}, late share {fleet.Endpoint(4).LateShare:P1}: {report}");
        Shares.AssertProportional(report, [1, 1, 1, 1, 1], tolerance: 0.25);
    }

    [Fact]
    public async Task A_slow_replica_that_recovers_gets_its_share_back_within_seconds()
    {
        await using var fleet = await BalancedFleet.StartAsync(null, [1, 1, 1]);
        fleet.Replicas[2].Behavior.Latency = TimeSpan.FromMilliseconds(20);
        var slow = await fleet.SendAsync(1000, 4);
        Assert.True(slow.ShareOf("r2") < 0.1, $"while 20 ms slower, r2 took {slow.ShareOf("r2"):P1}: {slow}");

        fleet.Replicas[2].Behavior.Reset();
        var recovery = Stopwatch.StartNew();
        var shares = new List<double>();
        while (recovery.Elapsed < TimeSpan.FromSeconds(20))
        {
            var window = await fleet.SendAsync(300, 4);
            shares.Add(window.ShareOf("r2"));
            if (window.ShareOf("r2") >= 0.5 / 3)
            {
                break;
            }
        }

        // Bounded generously for a loaded machine; the load bench reports the actual recovery time.
        Assert.True(shares[^1] >= 0.5 / 3, $"after {recovery.Elapsed.TotalSeconds:F1} s r2's share was still {string.Join(", ", shares.Select(s => s.ToString("P0", System.Globalization.CultureInfo.InvariantCulture)))}");
    }
}
