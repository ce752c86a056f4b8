using Mesh.Soak;
using Mesh.Tests.Shared;

namespace Mesh.Discovery.Tests.Soak;

/// <summary>
/// The CI-sized versions of bench/Mesh.Soak: a minute of steady traffic under continuous chaos (replicas killed, hung,
/// paused, restarted and rolled; configuration reloaded; registrations churning in a real etcd, whose member is
/// killed and restarted; every SVID rotated), and an overload at twice the replicas' capacity. The long runs and their
/// figures are in bench/README.md.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class ShortSoakTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_minute_of_chaos_under_steady_traffic_fails_no_request_and_grows_no_resource()
    {
        Requires.Executable("etcd", "etcd-server");
        var log = new List<string>();

        var result = await SoakRunner.RunAsync(new SoakOptions(TimeSpan.FromSeconds(60), RequestsPerSecond: 200, ChaosInterval: TimeSpan.FromSeconds(5)), log.Add, Token);

        var report = SoakReport.Markdown(result, "test", "ShortSoakTests");
        TestContext.Current.SendDiagnosticMessage(report);
        Assert.True(result.Phases.Count >= 10, $"only {result.Phases.Count} phases:\n{string.Join('\n', log)}");
        Assert.True(result.Sent >= 200 * 50, $"only {result.Sent} requests were sent:\n{report}");
        Assert.True(result.Failed == 0, report);
        Assert.Empty(SoakReport.Violations(result));
    }

    [Fact]
    public async Task Overload_at_twice_the_capacity_is_not_amplified_by_retries()
    {
        var results = await Overload.RunAsync(TimeSpan.FromSeconds(5), _ => { });

        var report = Overload.Markdown(results);
        TestContext.Current.SendDiagnosticMessage(report);
        foreach (var result in results)
        {
            // The retry budget allows 20% of requests plus 10 per second (over a 10 s window): no retry storm.
            Assert.True(result.Amplification <= 1.2 + (110.0 / result.Sent) + 0.02, $"{result.Scenario}, {result.Config}: {result.Amplification:F2} attempts per request\n{report}");
            Assert.True(result.GoodputPerSecond > 0.5 * result.CapacityPerSecond, $"{result.Scenario}, {result.Config}: goodput {result.GoodputPerSecond:F0}/s\n{report}");
        }
    }
}
