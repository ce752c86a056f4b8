using System.Diagnostics;
using System.Text.RegularExpressions;
using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Waiting;

public sealed class WaitStrategyTests(DockerFixture fixture)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private DockerContainerBuilder Shell(string script) => new DockerContainerBuilder(fixture.HttpdImage)
        .WithEntrypoint("/bin/busybox")
        .WithCommand("sh", "-c", script);

    [Fact]
    public async Task A_log_line_wait_follows_the_stream_and_returns_when_the_line_is_written()
    {
        var stopwatch = Stopwatch.StartNew();

        await using var container = await Shell("sleep 1; echo warming; echo ready to serve; sleep 30")
            .WithWaitStrategy(WaitStrategy.ForLogLine(new Regex("^ready to serve$")))
            .StartAsync(fixture.Session, Ct);

        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_container_that_exits_while_waited_on_fails_at_once_with_its_exit_code_and_last_lines()
    {
        var stopwatch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<DockerContainerNotReadyException>(() => Shell("echo starting; echo config missing >&2; exit 3")
            .WithPortBinding(80)
            .WithWaitStrategy(WaitStrategy.ForHttp(80).WithTimeout(TimeSpan.FromMinutes(1)))
            .StartAsync(fixture.Session, Ct));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"took {stopwatch.Elapsed}, close to the 60 s timeout");
        Assert.Equal(3, error.ExitCode);
        Assert.Contains("config missing", error.LastLogLines);
        Assert.Contains("exited with code 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wait_that_never_succeeds_fails_within_its_timeout_with_the_last_log_lines()
    {
        var stopwatch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<DockerContainerNotReadyException>(() => Shell("echo still booting; sleep 30")
            .WithWaitStrategy(WaitStrategy.ForLogLine("never printed").WithTimeout(TimeSpan.FromSeconds(1)))
            .StartAsync(fixture.Session, Ct));

        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        Assert.Null(error.ExitCode);
        Assert.Contains("still booting", error.LastLogLines);
    }

    [Fact]
    public async Task A_port_wait_ignores_the_engine_proxy_until_the_server_listens()
    {
        await using var container = await Shell("sleep 1; exec /bin/busybox httpd -f -p 80 -h /www")
            .WithPortBinding(80)
            .WithWaitStrategy(WaitStrategy.ForPort(80))
            .StartAsync(fixture.Session, Ct);

        Assert.True(await LoopbackHttp.AnswersAsync(container.GetBaseAddress(80), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_health_wait_returns_when_the_engine_reports_healthy()
    {
        await using var container = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithHealthCheck(["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"], TimeSpan.FromMilliseconds(200))
            .WithWaitStrategy(WaitStrategy.ForHealthy())
            .StartAsync(fixture.Session, Ct);

        Assert.Equal("healthy", (await container.GetStateAsync(Ct)).Health);
    }

    [Fact]
    public async Task A_health_wait_on_a_container_without_a_health_check_fails_saying_so()
    {
        var error = await Assert.ThrowsAsync<DockerContainerNotReadyException>(() => new DockerContainerBuilder(fixture.HttpdImage)
            .WithWaitStrategy(WaitStrategy.ForHealthy())
            .StartAsync(fixture.Session, Ct));

        Assert.Contains("has no health check", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Combined_strategies_wait_for_all_of_them()
    {
        await using var container = await Shell("echo first; sleep 0.5; echo second; exec /bin/busybox httpd -f -p 80 -h /www")
            .WithPortBinding(80)
            .WithWaitStrategy(WaitStrategy.ForLogLine("second").And(WaitStrategy.ForHttp(80)))
            .StartAsync(fixture.Session, Ct);

        var lines = await container.GetLogsAsync(cancellationToken: Ct);
        Assert.Contains(lines, l => l.Text == "second");
        Assert.True(await LoopbackHttp.AnswersAsync(container.GetBaseAddress(80), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_log_line_wait_after_a_restart_is_not_satisfied_by_the_previous_run()
    {
        await using var container = await Shell("if [ -f /ran ]; then sleep 1.5; fi; /bin/busybox touch /ran; echo ready; sleep 30")
            .WithWaitStrategy(WaitStrategy.ForLogLine("ready"))
            .StartAsync(fixture.Session, Ct);
        var stopwatch = Stopwatch.StartNew();

        await container.RestartAsync(TimeSpan.FromSeconds(1), Ct);

        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(1.5), $"restart returned after {stopwatch.Elapsed}, before the new run said ready");
    }

    [Fact]
    public async Task No_wait_lets_a_one_shot_container_run_to_its_exit()
    {
        await using var container = await Shell("echo done; exit 4")
            .WithWaitStrategy(WaitStrategy.None())
            .StartAsync(fixture.Session, Ct);

        Assert.Equal(4, await container.WaitForExitAsync(Ct));
        Assert.Contains(await container.GetLogsAsync(cancellationToken: Ct), l => l.Text == "done");
    }

    [Fact]
    public void Strategies_are_immutable_values_compared_by_value()
    {
        var port = WaitStrategy.ForPort(80);

        var bounded = port.WithTimeout(TimeSpan.FromSeconds(5));

        Assert.Equal(WaitStrategy.DefaultTimeout, port.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(5), bounded.Timeout);
        Assert.Equal(WaitStrategy.ForPort(80), port);
        Assert.NotEqual(WaitStrategy.ForPort(81), port);
        Assert.Equal(WaitStrategy.ForLogLine("a").And(port), WaitStrategy.ForLogLine("a").And(WaitStrategy.ForPort(80)));
    }

    [Fact]
    public void A_non_positive_timeout_is_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => WaitStrategy.ForPort(80).WithTimeout(TimeSpan.Zero));

    [Fact]
    public async Task Cancellation_by_the_caller_stops_the_wait()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Shell("sleep 30")
            .WithWaitStrategy(WaitStrategy.ForLogLine("never"))
            .StartAsync(fixture.Session, cts.Token));
    }
}
