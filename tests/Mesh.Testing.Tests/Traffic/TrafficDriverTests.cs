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
        Assert.All(report.Failures, f => Assert.Equal((System.Net.HttpStatusCode.InternalServerError, null), (f.StatusCode, f.Exception)));
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

    [Fact]
    public async Task A_request_that_throws_is_a_failure_that_keeps_its_exception()
    {
        using var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop(); // nothing listens there any more: connections are refused
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        var report = await TrafficDriver.RunAsync(client, new TrafficOptions { RequestCount = 3, Concurrency = 1 }, Token);

        Assert.Equal(3, report.Failed);
        Assert.All(report.Failures, f =>
        {
            var error = Assert.IsType<HttpRequestException>(f.Exception);
            Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
            Assert.Null(f.StatusCode);
            Assert.Null(f.Replica);
            Assert.Equal($"HttpRequestException: {error.Message}", f.Reason);
        });
    }

    [Fact]
    public async Task Stopping_a_started_run_lets_the_requests_in_flight_finish_and_count()
    {
        await using var replica = await InProcessReplica.StartAsync("f", cancellationToken: Token);
        replica.Behavior.Latency = TimeSpan.FromMilliseconds(200);
        using var client = new HttpClient { BaseAddress = replica.Address };

        await using var traffic = TrafficDriver.Start(client, new TrafficOptions { Concurrency = 4 }, cancellationToken: Token);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (replica.RequestCount < 4 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10, Token); // until every worker has had a request at the replica
        }

        var report = await traffic.StopAsync();

        Assert.Equal(replica.RequestCount, report.Succeeded); // no request the replica answered escaped the report
        Assert.True(report.Succeeded >= 4, report.ToString());
        report.AssertNoFailures();
        Assert.Same(report, await traffic.Completion);
        Assert.Same(report, await traffic.StopAsync());
    }

    [Fact]
    public async Task Stopping_cancels_requests_still_in_flight_after_the_stop_timeout()
    {
        await using var replica = await InProcessReplica.StartAsync("g", cancellationToken: Token);
        replica.Behavior.Hang = true;
        using var client = new HttpClient { BaseAddress = replica.Address };

        await using var traffic = TrafficDriver.Start(client, new TrafficOptions { Concurrency = 2, StopTimeout = TimeSpan.FromMilliseconds(200) }, cancellationToken: Token);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (replica.RequestCount < 2 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10, Token); // both workers' requests reach the replica and hang there
        }

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        var report = await traffic.StopAsync();

        Assert.Equal(2, replica.RequestCount);
        Assert.InRange(stopping.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(5)); // waited, then gave up
        Assert.Equal(0, report.Succeeded + report.Failed); // the hung requests count neither way
    }

    [Fact]
    public async Task The_recorder_of_a_started_run_counts_per_replica_while_it_runs()
    {
        await using var replica = await InProcessReplica.StartAsync("h", cancellationToken: Token);
        using var client = new HttpClient { BaseAddress = replica.Address };

        await using var traffic = TrafficDriver.Start(client, new TrafficOptions { Concurrency = 1, Duration = TimeSpan.FromSeconds(30) }, cancellationToken: Token);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (traffic.Recorder.CountOf("h") < 20 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10, Token);
        }

        Assert.True(traffic.Recorder.CountOf("h") >= 20);
        Assert.Equal(0, traffic.Recorder.CountOf("nobody"));
        var report = await traffic.StopAsync();
        Assert.True(report.CountOf("h") >= 20);
        Assert.True(report.Elapsed < TimeSpan.FromSeconds(29), "StopAsync ended the run before its duration");
    }
}
