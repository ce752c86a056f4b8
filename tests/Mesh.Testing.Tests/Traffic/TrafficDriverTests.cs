using Mesh.Testing;

namespace Mesh.Testing.Tests.Traffic;

public sealed class TrafficDriverTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Counts_requests_per_replica_and_reports_latency_percentiles()
    {
        await using var replica = await InProcessReplica.StartAsync("a", cancellationToken: Token);
        replica.Behavior.Latency = TimeSpan.FromMilliseconds(20);
        using var client = new HttpClient { BaseAddress = replica.Address };

        var report = await TrafficDriver.RunAsync(client, new TrafficOptions { RequestCount = 40, Concurrency = 4 }, Token);

        Assert.Equal(40, report.CountOf("a"));
        Assert.Equal(0, report.Failed);
        Assert.InRange(report.Latency.P50, TimeSpan.FromMilliseconds(19), TimeSpan.FromMilliseconds(500));
        Assert.True(report.Latency.P99 >= report.Latency.P50);
        report.AssertNoFailures();
        report.AssertDistribution(new Dictionary<string, double> { ["a"] = 1.0 }, tolerance: 0);
    }

    [Fact]
    public async Task Failures_are_reported_with_their_reasons_and_fail_the_assertion()
    {
        await using var replica = await InProcessReplica.StartAsync("b", cancellationToken: Token);
        replica.Behavior.ErrorRate = 1.0;
        using var client = new HttpClient { BaseAddress = replica.Address };

        var report = await TrafficDriver.RunAsync(client, new TrafficOptions { RequestCount = 10, Concurrency = 2 }, Token);

        Assert.Equal(10, report.Failed);
        Assert.All(report.Failures, f => Assert.Equal(("b", "HTTP 500 Internal Server Error"), (f.Replica, f.Reason)));
        var error = Assert.Throws<TrafficAssertionException>(report.AssertNoFailures);
        Assert.Contains("10 of 10 requests failed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rate_limits_how_many_requests_are_sent_in_a_duration()
    {
        await using var replica = await InProcessReplica.StartAsync("c", cancellationToken: Token);
        using var client = new HttpClient { BaseAddress = replica.Address };

        var report = await TrafficDriver.RunAsync(client, new TrafficOptions { RequestsPerSecond = 50, Duration = TimeSpan.FromSeconds(1), Concurrency = 4 }, Token);

        Assert.InRange(report.Succeeded, 40, 52);
    }

    [Fact]
    public async Task The_distribution_assertion_names_the_replica_that_is_off()
    {
        await using var replica = await InProcessReplica.StartAsync("d", cancellationToken: Token);
        using var client = new HttpClient { BaseAddress = replica.Address };
        var report = await TrafficDriver.RunAsync(client, new TrafficOptions { RequestCount = 10 }, Token);

        var error = Assert.Throws<TrafficAssertionException>(() => report.AssertDistribution(new Dictionary<string, double> { ["d"] = 0.5, ["e"] = 0.5 }, 0.05));

        Assert.Contains("d: 100.0 %, expected 50.0 %", error.Message, StringComparison.Ordinal);
        Assert.Contains("e: 0.0 %, expected 50.0 %", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_without_an_end_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => TrafficDriver.RunAsync(new HttpClient(), new TrafficOptions(), Token).GetAwaiter().GetResult());

        Assert.Contains("Set Duration, RequestCount or both", error.Message, StringComparison.Ordinal);
    }
}
