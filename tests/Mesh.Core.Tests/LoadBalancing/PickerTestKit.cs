using Mesh.Endpoints.Internal;
using Mesh.LoadBalancing.Internal;
using Mesh.Resilience.Internal;

namespace Mesh.Tests.LoadBalancing;

/// <summary>Builds pickers directly from endpoint states, with injected randomness, and simulates traffic through them
/// on a virtual clock (1 tick = 1 µs), so that picker tests are exact and repeatable.</summary>
internal static class PickerTestKit
{
    /// <summary>τ = 10 s (the default) in the kit's 1 µs ticks.</summary>
    public const double DecayTicks = 10_000_000;

    /// <summary>τ = 10 s and DefaultRtt = 30 ms, in the kit's 1 µs ticks.</summary>
    public static PickerSettings Settings(RandomSource random) => new(DecayTicks, DefaultRttTicks: 30_000, random);

    /// <summary>The jitter floor of <see cref="Settings"/> (1 ms of the 30 ms DefaultRtt), in the kit's 1 µs ticks.</summary>
    public static readonly double JitterTicks = Settings(RandomSource.Shared).JitterTicks;

    public static EndpointState[] NewEndpoints(params int[] weights) =>
        [.. weights.Select((w, i) => new EndpointState(new MeshEndpoint($"http://10.0.{i / 256}.{i % 256}:80", w)))];

    public static EndpointPicker Create(LoadBalancerKind kind, EndpointState[] endpoints, RandomSource random, double[]? weights = null) =>
        EndpointPickerFactory.Create(kind, endpoints, weights ?? [.. endpoints.Select(e => (double)e.Endpoint.Weight)], Settings(random));

    public static EndpointState Pick(this EndpointPicker picker, long now = 1, ulong? hash = null) =>
        picker.Pick(new PickContext(now, hash ?? 0, hash is not null, 0));

    /// <summary>Gives an endpoint <paramref name="count"/> samples of <paramref name="rttTicks"/>, ending at <paramref name="now"/>.</summary>
    public static void Measure(this EndpointState endpoint, double rttTicks, int count = EndpointState.TrustedAfterSamples, long now = 1)
    {
        for (var i = 0; i < count; i++)
        {
            endpoint.ObserveRtt(rttTicks, now, DecayTicks);
        }
    }

    public static void StartRequests(this EndpointState endpoint, int count)
    {
        for (var i = 0; i < count; i++)
        {
            endpoint.OnRequestStart();
        }
    }

    /// <summary>
    /// Closed-loop traffic on a virtual clock: <paramref name="concurrency"/> workers each pick, hold the request for
    /// the latency <paramref name="latency"/> returns (endpoint index, request number → µs), record it as the handler
    /// does (the RTT estimate, and the tail rate against the p97.5 of the service's recent latencies), and pick again. Returns how many requests each endpoint got, in order of <paramref name="requests"/>.
    /// </summary>
    public static int[] Simulate(EndpointPicker picker, EndpointState[] endpoints, int requests, int concurrency, Func<int, int, double> latency, Action<int>? beforeRequest = null)
    {
        var counts = new int[endpoints.Length];
        var index = endpoints.Select((e, i) => (e, i)).ToDictionary(x => x.e, x => x.i);
        var inFlight = new PriorityQueue<(EndpointState Endpoint, long Start), long>();
        long now = 1_000_000;
        var latencies = new LatencyHistogram(TimeSpan.FromSeconds(10), timestampFrequency: 1_000_000);
        var sent = 0;
        while (sent < requests || inFlight.Count > 0)
        {
            if (sent < requests && inFlight.Count < concurrency)
            {
                beforeRequest?.Invoke(sent);
                var endpoint = picker.Pick(now);
                var i = index[endpoint];
                counts[i]++;
                endpoint.OnRequestStart();
                inFlight.Enqueue((endpoint, now), now + Math.Max(1, (long)latency(i, sent)));
                sent++;
                continue;
            }

            inFlight.TryDequeue(out var done, out var end);
            now = end;
            done.Endpoint.OnRequestEnd(done.Start, end, DecayTicks, failed: false, tailThresholdTicks: latencies.TailThreshold(end), jitterTicks: JitterTicks);
            latencies.Record(end - done.Start, end);
        }

        return counts;
    }

    /// <summary>A latency of <paramref name="medianMicros"/> µs with log-normal noise (σ = 0.5, so p90 ≈ 1.9 × the
    /// median) and a stall of 100 × in 0.5% of requests: roughly what a loaded 2-core host shows on loopback.</summary>
    public static Func<int, int, double> NoisyLatency(int seed, params double[] medianMicros)
    {
        var random = new Random(seed);
        return (endpoint, _) =>
        {
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            var stall = random.NextDouble() < 0.005 ? 100 : 1;
            return medianMicros[endpoint] * Math.Exp(0.5 * normal) * stall;
        };
    }

    /// <summary>
    /// Traffic for a span of virtual time: <paramref name="concurrency"/> workers each pick, hold the request for the
    /// latency <paramref name="latency"/> returns (endpoint index → µs), record it as the handler does (see
    /// <see cref="Simulate"/>), wait <paramref name="thinkMicros"/> and pick again, until <paramref name="durationMicros"/>
    /// have passed from <paramref name="now"/> (advanced to the end). Returns the share of the requests each endpoint got.
    /// </summary>
    public static double[] SimulateFor(EndpointPicker picker, EndpointState[] endpoints, LatencyHistogram latencies, ref long now, long durationMicros, int concurrency, long thinkMicros, Func<int, double> latency)
    {
        var counts = new int[endpoints.Length];
        var index = endpoints.Select((e, i) => (e, i)).ToDictionary(x => x.e, x => x.i);
        var events = new PriorityQueue<(EndpointState? Endpoint, long Start), long>(); // a null endpoint: a worker's next pick
        var end = now + durationMicros;
        for (var c = 0; c < concurrency; c++)
        {
            events.Enqueue((null, 0), now + c);
        }

        while (events.TryDequeue(out var e, out var t))
        {
            now = t;
            if (e.Endpoint is { } done)
            {
                done.OnRequestEnd(e.Start, t, DecayTicks, failed: false, tailThresholdTicks: latencies.TailThreshold(t), jitterTicks: JitterTicks);
                latencies.Record(t - e.Start, t);
                events.Enqueue((null, 0), t + thinkMicros);
            }
            else if (t < end)
            {
                var endpoint = picker.Pick(t);
                var i = index[endpoint];
                counts[i]++;
                endpoint.OnRequestStart();
                events.Enqueue((endpoint, t), t + Math.Max(1, (long)latency(i)));
            }
        }

        now = Math.Max(now, end);
        return Shares(counts);
    }

    public static double[] Shares(int[] counts) => [.. counts.Select(c => (double)c / counts.Sum())];
}

/// <summary>Randomness from a script, for exact picker tests: <see cref="Next"/> and <see cref="NextDouble"/> return the
/// queued values in order and fail the test when the picker asks for more than the test expected.</summary>
internal sealed class ScriptedRandom(int[] integers, double[]? doubles = null) : RandomSource
{
    private readonly Queue<int> _integers = new(integers);
    private readonly Queue<double> _doubles = new(doubles ?? []);

    public override int Next(int maxExclusive)
    {
        Assert.True(_integers.TryDequeue(out var value), "the picker drew more integers than scripted");
        Assert.InRange(value, 0, maxExclusive - 1);
        return value;
    }

    public override double NextDouble()
    {
        Assert.True(_doubles.TryDequeue(out var value), "the picker drew more uniform numbers than scripted");
        return value;
    }

    /// <summary>Whether the picker used every scripted value.</summary>
    public bool Used => _integers.Count == 0 && _doubles.Count == 0;
}
