using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Soak;

/// <summary>One overload run.</summary>
internal sealed record OverloadResult(string Config, string Scenario, double OfferedPerSecond, double CapacityPerSecond, double GoodputPerSecond, long Sent, long Ok, long Failed,
    double P50Ms, double P99Ms, long Attempts, long RetryBudgetRefusals)
{
    /// <summary>Attempts that reached the mesh per request sent (1.0: no amplification).</summary>
    public double Amplification => Sent == 0 ? 0 : (double)Attempts / Sent;
}

/// <summary>
/// Overload: replicas with a known capacity (each serves at most <see cref="Concurrency"/> requests at a time, each
/// taking <see cref="ServiceTime"/>, and queues the rest), offered twice what they can serve in all, open loop; with
/// and without the standard resilience handler's retries; then with one replica slow. The mesh must not amplify the
/// overload: the retry budget caps retries at 20% of requests plus 10 per second.
/// </summary>
internal static class Overload
{
    private const int Concurrency = 4;
    private static readonly TimeSpan ServiceTime = TimeSpan.FromMilliseconds(10);

    public static async Task<List<OverloadResult>> RunAsync(TimeSpan duration, Action<string> log)
    {
        var replicas = new List<(InProcessReplica Replica, SemaphoreSlim Gate)>();
        for (var i = 0; i < 3; i++)
        {
            var gate = new SemaphoreSlim(Concurrency, Concurrency);
            var replica = await InProcessReplica.StartAsync($"o{i}", new InProcessReplicaOptions
            {
                ConfigureApp = app => app.Use(async (HttpContext context, RequestDelegate next) =>
                {
                    await gate.WaitAsync(context.RequestAborted); // a server with a fixed number of workers: the rest queue
                    try
                    {
                        await Task.Delay(ServiceTime, context.RequestAborted);
                        await next(context);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }),
            });
            replicas.Add((replica, gate));
        }

        var capacity = replicas.Count * Concurrency / ServiceTime.TotalSeconds;
        var results = new List<OverloadResult>();
        try
        {
            foreach (var (scenario, slow) in new[] { ("all replicas equal", false), ("one replica 5× slower", true) })
            {
                replicas[2].Replica.Behavior.Latency = slow ? ServiceTime * 4 : TimeSpan.Zero;
                var effective = slow ? (2 * Concurrency / ServiceTime.TotalSeconds) + (Concurrency / (ServiceTime.TotalSeconds * 5)) : capacity;
                foreach (var (config, retries) in new[] { ("mesh, no retries", false), ("mesh + standard resilience (retries)", true) })
                {
                    var result = await RunOneAsync(config, scenario, retries, replicas.Select(r => r.Replica).ToList(), offered: 2 * capacity, effective, duration);
                    results.Add(result);
                    log(string.Create(CultureInfo.InvariantCulture,
                        $"  {scenario,-22} {config,-38} offered {result.OfferedPerSecond,6:F0}/s  goodput {result.GoodputPerSecond,6:F0}/s  p99 {result.P99Ms,7:F1} ms  attempts/request {result.Amplification:F2}  budget refusals {result.RetryBudgetRefusals}"));
                }
            }
        }
        finally
        {
            foreach (var (replica, gate) in replicas)
            {
                await replica.DisposeAsync();
                gate.Dispose();
            }
        }

        return results;
    }

    private static async Task<OverloadResult> RunOneAsync(string config, string scenario, bool retries, List<InProcessReplica> replicas, double offered, double capacity, TimeSpan duration)
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.PeakEwma };
            foreach (var r in replicas)
            {
                catalog.Endpoints.Add(new MeshEndpointOptions { Address = r.Address.ToString() });
            }

            o.Services["catalog"] = catalog;
        });
        var builder = services.AddHttpClient("catalog", c =>
        {
            c.BaseAddress = new Uri("http://catalog");
            c.Timeout = TimeSpan.FromSeconds(5);
        });
        if (retries)
        {
            builder.AddStandardResilienceHandler(o =>
            {
                o.Retry.Delay = TimeSpan.FromMilliseconds(10);
                o.AttemptTimeout.Timeout = TimeSpan.FromMilliseconds(500);
                o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(4);
                o.CircuitBreaker.MinimumThroughput = 100_000;
            });
        }

        builder.AddMeshHandler();
        await using var provider = services.BuildServiceProvider();
        using var meters = new MeshMeterCounts(provider.GetRequiredService<IMeterFactory>());
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        var phase = new PhaseStats(config, TimeSpan.Zero);
        var loop = new TrafficLoop(client, offered, maxInFlight: 2048) { Phase = phase };
        using var stop = new CancellationTokenSource(duration);
        var clock = Stopwatch.StartNew();
        await loop.RunAsync(stop.Token);
        var seconds = clock.Elapsed.TotalSeconds;
        var attempts = meters.AttemptsByOutcome().Values.Sum();
        var latency = phase.Latency;
        return new OverloadResult(config, scenario, offered, capacity, phase.Ok / seconds, phase.Sent, phase.Ok, phase.Failed,
            latency.TotalCount == 0 ? 0 : latency.GetValueAtPercentile(50) / 1000.0, latency.TotalCount == 0 ? 0 : latency.GetValueAtPercentile(99) / 1000.0, attempts, meters.RetryBudgetExhausted);
    }

    /// <summary>What must hold under overload: no retry storm (the retry budget allows 20% of requests plus 10 per
    /// second over its 10 s window, so at most about 1.2 attempts per request). Goodput is reported, not bounded: it
    /// depends on the client's timeouts more than on the mesh (bench/README.md).</summary>
    public static List<string> Violations(List<OverloadResult> results)
    {
        var problems = new List<string>();
        foreach (var r in results)
        {
            var bound = 1.2 + (110.0 / Math.Max(r.Sent, 1)) + 0.02;
            if (r.Amplification > bound)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{r.Scenario}, {r.Config}: {r.Amplification:F2} attempts per request (bound {bound:F2})"));
            }
        }

        return problems;
    }

    public static string Markdown(List<OverloadResult> results)
    {
        static string F(double value, string format = "F0") => value.ToString(format, CultureInfo.InvariantCulture);
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"3 replicas, each at most {Concurrency} requests at a time of {ServiceTime.TotalMilliseconds:0} ms (the rest queue); open-loop load at twice their total capacity; PeakEwma; a 5 s client timeout (4 s total and 500 ms per attempt with the resilience handler).");
        md.AppendLine();
        md.AppendLine("| scenario | configuration | offered /s | capacity /s | goodput /s | failed | p50 ms | p99 ms (successes) | attempts per request | retries refused by the budget |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Scenario} | {r.Config} | {F(r.OfferedPerSecond)} | {F(r.CapacityPerSecond)} | {F(r.GoodputPerSecond)} | {r.Failed:N0} of {r.Sent:N0} | {F(r.P50Ms, "F1")} | {F(r.P99Ms, "F1")} | {F(r.Amplification, "F2")} | {r.RetryBudgetRefusals:N0} |");
        }

        md.AppendLine();
        return md.ToString();
    }
}
