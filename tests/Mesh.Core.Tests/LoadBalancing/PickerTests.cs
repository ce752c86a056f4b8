using Mesh.Endpoints.Internal;
using Mesh.LoadBalancing.Internal;
using static Mesh.Tests.LoadBalancing.PickerTestKit;

namespace Mesh.Tests.LoadBalancing;

/// <summary>Pickers built directly from endpoint states, with scripted or seeded randomness: every result here is
/// exact and the same on every run.</summary>
public sealed class PickerTests
{
    // ------------------------------------------------------------------ the two-choices draw and the load rule

    [Theory]
    [InlineData(LoadBalancerKind.LeastRequest)]
    [InlineData(LoadBalancerKind.PeakEwma)]
    public void With_nothing_in_flight_the_first_candidate_keeps_the_request(LoadBalancerKind kind)
    {
        var endpoints = NewEndpoints(1, 1, 1);
        var random = new ScriptedRandom([2, 0]); // first candidate 2, second 0 (the second draw skips the first)

        var picked = Create(kind, endpoints, random).Pick();

        Assert.Same(endpoints[2], picked);
        Assert.True(random.Used);
    }

    [Theory]
    [InlineData(LoadBalancerKind.LeastRequest, 3, true)]  // 3 ≤ 1.5 × (1 + 1): a tie, the first keeps it
    [InlineData(LoadBalancerKind.LeastRequest, 4, false)] // 4 > 3: clearly more loaded
    [InlineData(LoadBalancerKind.PeakEwma, 3, true)]
    [InlineData(LoadBalancerKind.PeakEwma, 4, false)]
    public void The_second_candidate_wins_only_when_the_first_is_clearly_more_loaded(LoadBalancerKind kind, int firstInFlight, bool firstKeeps)
    {
        var endpoints = NewEndpoints(1, 1);
        endpoints[0].StartRequests(firstInFlight);
        endpoints[1].StartRequests(1);

        var picked = Create(kind, endpoints, new ScriptedRandom([0, 0])).Pick();

        Assert.Same(firstKeeps ? endpoints[0] : endpoints[1], picked);
    }

    [Theory]
    [InlineData(9, true)]   // 9 / 3 ≤ 1.5 × (1 + 1) / 1
    [InlineData(10, false)] // 10 / 3 > 3
    public void Load_is_compared_per_unit_of_weight(int heavyInFlight, bool heavyKeeps)
    {
        var endpoints = NewEndpoints(3, 1);
        endpoints[0].StartRequests(heavyInFlight);
        endpoints[1].StartRequests(1);

        // Weights differ, so both candidates come from the alias table: u = 0.1 lands on the heavy endpoint, 0.6 on the light one.
        var picked = Create(LoadBalancerKind.LeastRequest, endpoints, new ScriptedRandom([], [0.1, 0.6])).Pick();

        Assert.Same(heavyKeeps ? endpoints[0] : endpoints[1], picked);
    }

    public static TheoryData<LoadBalancerKind> ProportionalKinds => [LoadBalancerKind.LeastRequest, LoadBalancerKind.PeakEwma, LoadBalancerKind.Random];

    [Theory]
    [MemberData(nameof(ProportionalKinds))]
    public void Idle_weighted_endpoints_get_traffic_in_proportion_to_their_weights(LoadBalancerKind kind)
    {
        var endpoints = NewEndpoints(3, 1);
        var picker = Create(kind, endpoints, RandomSource.Seeded(16));

        var heavy = Enumerable.Range(0, 40_000).Count(_ => ReferenceEquals(picker.Pick(), endpoints[0])) / 40_000.0;

        Assert.InRange(heavy, 0.745, 0.755);
    }

    [Fact]
    public void An_endpoint_in_slow_start_is_drawn_in_proportion_to_its_ramped_weight()
    {
        var endpoints = NewEndpoints(1, 1, 1);
        endpoints[0].Measure(50);
        endpoints[1].Measure(50);
        var picker = Create(LoadBalancerKind.PeakEwma, endpoints, RandomSource.Seeded(3), weights: [1, 1, 0.2]);

        var counts = new int[3];
        for (var i = 0; i < 22_000; i++)
        {
            counts[Array.IndexOf(endpoints, picker.Pick())]++;
        }

        // Weight 0.2 of 2.2: 9.1%, whatever its (missing) RTT estimate; a new endpoint is neither favoured nor avoided.
        Assert.InRange(counts[2] / 22_000.0, 0.086, 0.096);
    }

    // ------------------------------------------------------------------ PeakEwma: when latency counts

    [Fact]
    public void Rtt_estimates_within_the_tolerance_are_a_tie()
    {
        var endpoints = NewEndpoints(1, 1);
        endpoints[0].Measure(140);
        endpoints[1].Measure(100);

        var picked = Create(LoadBalancerKind.PeakEwma, endpoints, new ScriptedRandom([0, 0])).Pick();

        Assert.Same(endpoints[0], picked); // 1.4× slower, but that is noise: no random number drawn, the first keeps it
    }

    [Theory]
    [InlineData(0.060, 0)] // ρ = (29 + 1) / (9 + 1) ms = 3: latency counts when u ≥ (1.5 / 3)⁴ = 0.0625; below, the load rule keeps the first
    [InlineData(0.065, 1)] // latency counts: the faster second candidate wins
    public void A_slower_candidate_loses_with_probability_one_minus_the_fourth_power_of_the_tolerance_ratio(double u, int expected)
    {
        var endpoints = NewEndpoints(1, 1);
        endpoints[0].Measure(29_000);
        endpoints[1].Measure(9_000);

        var picked = Create(LoadBalancerKind.PeakEwma, endpoints, new ScriptedRandom([0, 0], [u])).Pick();

        Assert.Same(endpoints[expected], picked);
    }

    [Fact]
    public void Differences_below_the_millisecond_jitter_floor_are_a_tie()
    {
        var endpoints = NewEndpoints(1, 1);
        endpoints[0].Measure(400); // 400 µs against 100 µs: 4×, but (0.4 + 1) / (0.1 + 1) = 1.27 with the 1 ms floor
        endpoints[1].Measure(100);

        var picked = Create(LoadBalancerKind.PeakEwma, endpoints, new ScriptedRandom([0, 0])).Pick();

        Assert.Same(endpoints[0], picked);
    }

    [Theory]
    [InlineData(0.009, 0)] // within the 1% exploration: judged on load, and the first keeps it
    [InlineData(0.011, 1)]
    public void However_slow_a_candidate_looks_it_is_still_tried_now_and_then(double u, int expected)
    {
        var endpoints = NewEndpoints(1, 1);
        endpoints[0].Measure(100_000);
        endpoints[1].Measure(100);

        var picked = Create(LoadBalancerKind.PeakEwma, endpoints, new ScriptedRandom([0, 0], [u])).Pick();

        Assert.Same(endpoints[expected], picked);
    }

    [Theory]
    // RTTs of 19 ms and 1 ms, compared as 20 ms and 2 ms (the 1 ms jitter floor added).
    [InlineData(19_000, 0, 1_000, 5, 1)]   // latency counts: 20 × 1 > 1.5 × 2 × (5 + 1): the faster second wins
    [InlineData(19_000, 0, 1_000, 6, 0)]   // 20 ≤ 1.5 × 2 × 7: the slower first, idle, keeps it
    [InlineData(1_000, 13, 19_000, 0, 0)]  // 2 × 14 ≤ 1.5 × 20 × 1: the faster first keeps it
    [InlineData(1_000, 15, 19_000, 0, 1)]  // 2 × 16 > 30: e.g. a replica that hangs, its estimate still fast while its requests pile up
    public void When_latency_counts_expected_completion_times_decide_with_the_same_tolerance(double firstRtt, int firstInFlight, double secondRtt, int secondInFlight, int expected)
    {
        var endpoints = NewEndpoints(1, 1);
        endpoints[0].Measure(firstRtt);
        endpoints[0].StartRequests(firstInFlight);
        endpoints[1].Measure(secondRtt);
        endpoints[1].StartRequests(secondInFlight);

        var picked = Create(LoadBalancerKind.PeakEwma, endpoints, new ScriptedRandom([0, 0], [0.99])).Pick();

        Assert.Same(endpoints[expected], picked);
    }

    [Fact]
    public void An_estimate_of_fewer_than_eight_samples_is_not_compared()
    {
        var endpoints = NewEndpoints(1, 1);
        endpoints[0].Measure(100_000, count: EndpointState.TrustedAfterSamples - 1); // e.g. first requests paying for JIT and connections
        endpoints[1].Measure(100);

        var picked = Create(LoadBalancerKind.PeakEwma, endpoints, new ScriptedRandom([0, 0])).Pick();

        Assert.Same(endpoints[0], picked);
    }

    // ------------------------------------------------------------------ PeakEwma under noisy latencies (simulated)

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(5, 1)]
    [InlineData(3, 4)]
    [InlineData(5, 16)]
    public void Equal_replicas_with_noisy_latencies_share_traffic_evenly(int replicas, int concurrency)
    {
        var endpoints = NewEndpoints([.. Enumerable.Repeat(1, replicas)]);
        var picker = Create(LoadBalancerKind.PeakEwma, endpoints, RandomSource.Seeded((ulong)(replicas * 100 + concurrency)));

        var counts = Simulate(picker, endpoints, 30_000, concurrency, NoisyLatency(replicas, [.. Enumerable.Repeat(50.0, replicas)]));

        Assert.All(Shares(counts), share => Assert.InRange(share * replicas, 0.9, 1.1));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void Weights_hold_under_noisy_latencies(int concurrency)
    {
        var endpoints = NewEndpoints(1, 2, 3);
        var picker = Create(LoadBalancerKind.PeakEwma, endpoints, RandomSource.Seeded(7));

        var shares = Shares(Simulate(picker, endpoints, 60_000, concurrency, NoisyLatency(1, 50, 50, 50)));

        Assert.InRange(shares[0] * 6, 0.93, 1.07);
        Assert.InRange(shares[1] * 3, 0.93, 1.07);
        Assert.InRange(shares[2] * 2, 0.93, 1.07);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void A_replica_twice_as_slow_gets_clearly_less_than_its_fair_share(int concurrency)
    {
        var endpoints = NewEndpoints(1, 1, 1, 1, 1);
        var picker = Create(LoadBalancerKind.PeakEwma, endpoints, RandomSource.Seeded(5));

        var shares = Shares(Simulate(picker, endpoints, 30_000, concurrency, NoisyLatency(2, 5000, 5000, 5000, 5000, 10_000)));

        // Clearly less than fair, and still measured. (About 0.5 of fair from its estimate alone; one at a time about
        // 0.2, since its noisy answers, 2.5x its own median and more, are 3% of its answers and most of the service's
        // tail: the tail rate counts them.)
        Assert.InRange(shares[4] * 5, 0.1, 0.75);
    }

    [Fact]
    public void A_replica_50_ms_slower_gets_almost_nothing_and_its_share_back_when_it_recovers()
    {
        var endpoints = NewEndpoints(1, 1, 1, 1, 1);
        var picker = Create(LoadBalancerKind.PeakEwma, endpoints, RandomSource.Seeded(9));
        var slow = true;
        var noise = NoisyLatency(3, 300, 300, 300, 300, 300);
        Func<int, int, double> latency = (i, n) => noise(i, n) + (i == 4 && slow ? 50_000 : 0);

        var whileSlow = Shares(Simulate(picker, endpoints, 20_000, 16, latency));
        slow = false;
        var recovering = Shares(Simulate(picker, endpoints, 5_000, 16, latency));
        var recovered = Shares(Simulate(picker, endpoints, 20_000, 16, latency));

        Assert.True(whileSlow[4] < 0.005, $"the slow replica got {whileSlow[4]:P2}");
        Assert.True(recovering[4] > 0.05, $"in the first 5,000 requests after recovering it got {recovering[4]:P2}");
        Assert.InRange(recovered[4] * 5, 0.9, 1.1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void A_replica_that_answers_one_request_in_ten_50_ms_late_gets_clearly_less_than_its_fair_share(int concurrency)
    {
        // Answers of 2.5 ms with noise; r4 adds 50 ms to every tenth. Its geometric-mean estimate barely moves (it kept
        // 80–100% of a fair share and put 2% of all requests 50 ms late); its rate of late answers does.
        var endpoints = NewEndpoints(1, 1, 1, 1, 1);
        var picker = Create(LoadBalancerKind.PeakEwma, endpoints, RandomSource.Seeded(11));
        var noise = NoisyLatency(4, 2500, 2500, 2500, 2500, 2500);
        var late = new Random(12);
        Func<int, int, double> latency = (i, n) => noise(i, n) + (i == 4 && late.NextDouble() < 0.1 ? 50_000 : 0);

        var shares = Shares(Simulate(picker, endpoints, 30_000, concurrency, latency));

        Assert.True(shares[4] * 5 < 0.5, $"the replica with a 10% tail got {shares[4]:P1} (fair: 20%)");
        Assert.True(shares[4] > 0.002, $"the replica with a 10% tail was abandoned ({shares[4]:P2})");
        for (var i = 0; i < 4; i++)
        {
            Assert.InRange(shares[i] / shares[0], 0.85, 1.15); // the others still share evenly
        }
    }

    [Fact]
    public void A_replica_whose_tail_ends_gets_its_share_back()
    {
        var endpoints = NewEndpoints(1, 1, 1, 1, 1);
        var picker = Create(LoadBalancerKind.PeakEwma, endpoints, RandomSource.Seeded(13));
        var noise = NoisyLatency(5, 2500, 2500, 2500, 2500, 2500);
        var late = new Random(14);
        var tail = true;
        Func<int, int, double> latency = (i, n) => noise(i, n) + (tail && i == 4 && late.NextDouble() < 0.1 ? 50_000 : 0);

        var during = Shares(Simulate(picker, endpoints, 20_000, 8, latency));
        tail = false;
        _ = Simulate(picker, endpoints, 10_000, 8, latency);
        var after = Shares(Simulate(picker, endpoints, 20_000, 8, latency));

        Assert.True(during[4] * 5 < 0.5, $"with its tail the replica got {during[4]:P1}");
        Assert.InRange(after[4] * 5, 0.85, 1.15);
    }

    [Theory]
    [InlineData(1, 0)] // one request at a time, back to back: about 400 a second
    [InlineData(4, 47_500)] // four callers pausing 47.5 ms between requests: about 80 a second
    public void A_replica_whose_tail_ends_gets_its_share_back_within_seconds_at_low_concurrency(int concurrency, long thinkMicros)
    {
        // A quiet network (2.5 ms, σ = 0.3, no stalls): nothing but its tail rate keeps r4 off, and kept off it gets an
        // attempt only now and then. Each of those moved the rate by 1/128: at 80 requests a second it took 2.5 to 35 s
        // (per seed) to give r4 its share back. An answer on time long after the previous one now weighs more.
        var recovered = new List<double>();
        for (var seed = 0; seed < 8; seed++)
        {
            var endpoints = NewEndpoints(1, 1, 1, 1, 1);
            var picker = Create(LoadBalancerKind.PeakEwma, endpoints, RandomSource.Seeded((ulong)(100 + seed)));
            var noise = new Random(200 + seed);
            var late = new Random(300 + seed);
            var tail = true;
            Func<int, double> latency = i =>
            {
                var normal = Math.Sqrt(-2 * Math.Log(1.0 - noise.NextDouble())) * Math.Cos(2 * Math.PI * noise.NextDouble());
                return (2500 * Math.Exp(0.3 * normal)) + (tail && i == 4 && late.NextDouble() < 0.1 ? 50_000 : 0);
            };
            var latencies = new Mesh.Resilience.Internal.LatencyHistogram(TimeSpan.FromSeconds(10), timestampFrequency: 1_000_000);
            long now = 1_000_000;
            _ = SimulateFor(picker, endpoints, latencies, ref now, 30_000_000, concurrency, thinkMicros, latency);
            var during = SimulateFor(picker, endpoints, latencies, ref now, 30_000_000, concurrency, thinkMicros, latency);
            Assert.True(during[4] * 5 < 0.75, $"seed {seed}: with its tail the replica got {during[4]:P1} (fair: 20%)");

            tail = false;
            var seconds = 2.5; // the end of the first 2.5 s window in which r4 gets at least 15% of the requests
            while (seconds < 60 && SimulateFor(picker, endpoints, latencies, ref now, 2_500_000, concurrency, thinkMicros, latency)[4] < 0.15)
            {
                seconds += 2.5;
            }

            recovered.Add(seconds);
        }

        Assert.True(recovered.Max() <= 7.5, $"seconds until the replica had its share back, per seed: {string.Join(", ", recovered)}");
    }

    [Fact]
    public void Only_answers_late_for_the_service_and_for_the_endpoint_itself_count_as_its_tail()
    {
        var slower = NewEndpoints(1)[0];
        var tailed = NewEndpoints(1)[0];
        const long threshold = 5_000; // the service's p97.5: 5 ms
        for (var n = 0; n < 1_000; n++)
        {
            // Uniformly 8 ms: above the service's threshold, but not late for an endpoint whose estimate is 8 ms.
            slower.OnRequestStart();
            slower.OnRequestEnd(0, 8_000, DecayTicks, failed: false, tailThresholdTicks: threshold);

            // 2 ms, and 52 ms every tenth answer.
            tailed.OnRequestStart();
            tailed.OnRequestEnd(0, n % 10 == 0 ? 52_000 : 2_000, DecayTicks, failed: false, tailThresholdTicks: threshold);
        }

        Assert.Equal(1.0, slower.TailFactor); // judged by its estimate, which is 8 ms
        Assert.InRange(tailed.TailFactor, 2.5, 3.5); // 1 + 40 × (10% − 2.5% − 2.5%) = 3
    }

    [Fact]
    public void Answers_late_by_less_than_the_jitter_floor_are_noise_not_a_tail()
    {
        // A replica answering in 0.1 ms with a tenth of its answers at 0.6 ms: six times its typical RTT and above the
        // service's p97.5, but half a millisecond — what a busy host's scheduler adds, and below the 1 ms that PeakEwma
        // ignores when it compares RTTs. Counted as a tail it lost its fair share to an equal replica (85/15).
        const long threshold = 300; // the service's p97.5: 0.3 ms
        var jitter = JitterTicks; // 1 ms
        var noisy = NewEndpoints(1)[0];
        var countedWithoutFloor = NewEndpoints(1)[0];
        var tailed = NewEndpoints(1)[0];
        for (var n = 0; n < 1_000; n++)
        {
            var late = n % 10 == 0;
            noisy.OnRequestStart();
            noisy.OnRequestEnd(0, late ? 600 : 100, DecayTicks, failed: false, tailThresholdTicks: threshold, jitterTicks: jitter);
            countedWithoutFloor.OnRequestStart();
            countedWithoutFloor.OnRequestEnd(0, late ? 600 : 100, DecayTicks, failed: false, tailThresholdTicks: threshold);

            // The same replica with a real tail: 50 ms late.
            tailed.OnRequestStart();
            tailed.OnRequestEnd(0, late ? 50_100 : 100, DecayTicks, failed: false, tailThresholdTicks: threshold, jitterTicks: jitter);
        }

        Assert.Equal(1.0, noisy.TailFactor);
        Assert.InRange(countedWithoutFloor.TailFactor, 2.5, 3.5);
        Assert.InRange(tailed.TailFactor, 2.5, 3.5); // 1 + 40 × (10% − 2.5% − 2.5%) = 3
    }

    // ------------------------------------------------------------------ the other balancers

    [Fact]
    public void Weighted_round_robin_is_exact_in_every_cycle()
    {
        var endpoints = NewEndpoints(5, 3, 2);
        var picker = Create(LoadBalancerKind.WeightedRoundRobin, endpoints, RandomSource.Seeded(1));

        for (var cycle = 0; cycle < 20; cycle++)
        {
            var counts = new int[3];
            for (var i = 0; i < 10; i++)
            {
                counts[Array.IndexOf(endpoints, picker.Pick())]++;
            }

            Assert.Equal([5, 3, 2], counts);
        }
    }

    [Fact]
    public void Round_robin_skips_an_endpoint_in_slow_start_with_probability_one_minus_its_ramp()
    {
        var endpoints = NewEndpoints(1, 1);

        // The cursor starts after Next(int.MaxValue) = 0, so the first pick lands on endpoint 1 (ramp 0.25): u = 0.3 ≥ 0.25 skips it.
        var picked = Create(LoadBalancerKind.RoundRobin, endpoints, new ScriptedRandom([0], [0.3]), weights: [1, 0.25]).Pick();

        Assert.Same(endpoints[0], picked);
    }

    [Fact]
    public void Maglev_moves_about_one_nth_of_the_keys_when_one_of_n_endpoints_is_removed()
    {
        const int n = 10;
        var endpoints = NewEndpoints([.. Enumerable.Repeat(1, n)]);
        var full = Create(LoadBalancerKind.ConsistentHash, endpoints, RandomSource.Seeded(1));
        var reduced = Create(LoadBalancerKind.ConsistentHash, endpoints[1..], RandomSource.Seeded(1));
        var keys = Enumerable.Range(0, 20_000).Select(i => MaglevPicker.HashKey($"user-{i}")).ToArray();

        var before = keys.Select(k => full.Pick(hash: k)).ToArray();
        var after = keys.Select(k => reduced.Pick(hash: k)).ToArray();
        var moved = keys.Where((_, i) => before[i] != after[i]).Count();
        var movedFromRemaining = keys.Where((_, i) => before[i] != after[i] && before[i] != endpoints[0]).Count();

        Assert.InRange(moved / (double)keys.Length, 0.08, 0.14);                   // ≈ 1/n of all keys (those of the removed endpoint)...
        Assert.True(movedFromRemaining / (double)keys.Length < 0.02, $"{movedFromRemaining} keys of remaining endpoints moved"); // ...and almost nothing else
    }

    [Fact]
    public void Maglev_spreads_keys_in_proportion_to_weights()
    {
        var endpoints = NewEndpoints(1, 2, 1);
        var picker = Create(LoadBalancerKind.ConsistentHash, endpoints, RandomSource.Seeded(1));

        var share = Enumerable.Range(0, 40_000).Count(i => picker.Pick(hash: MaglevPicker.HashKey($"k{i}")) == endpoints[1]) / 40_000.0;

        Assert.InRange(share, 0.46, 0.54);
    }

    [Fact]
    public void Every_picker_picks_without_allocating()
    {
        foreach (var kind in Enum.GetValues<LoadBalancerKind>())
        {
            foreach (var random in new[] { RandomSource.Shared, RandomSource.Seeded(1) })
            {
                var endpoints = NewEndpoints([.. Enumerable.Range(0, 100).Select(i => 1 + (i % 3))]);
                foreach (var e in endpoints)
                {
                    e.Measure(1000 + (e.Port % 7) * 300);
                }

                var picker = Create(kind, endpoints, random);
                var context = new PickContext(1, 12345, kind == LoadBalancerKind.ConsistentHash, 0);
                for (var i = 0; i < 100_000; i++)
                {
                    picker.Pick(context); // warm-up: Random.Shared creates a generator per thread, and tiered compilation allocates once
                }

                var before = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < 10_000; i++)
                {
                    picker.Pick(context);
                }

                Assert.True(GC.GetAllocatedBytesForCurrentThread() - before == 0, $"{kind} with {random.GetType().Name} allocated {GC.GetAllocatedBytesForCurrentThread() - before} B");
            }
        }
    }
}
