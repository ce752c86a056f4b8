using System.Net;
using System.Net.Sockets;
using System.Text;
using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Containers;

public sealed class DockerContainerTests(DockerFixture fixture)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private DockerContainerBuilder Httpd => new DockerContainerBuilder(fixture.HttpdImage)
        .WithPortBinding(80)
        .WithWaitStrategy(WaitStrategy.ForHttp(80));

    [Fact]
    public async Task A_killed_container_exits_with_137_and_stops_answering()
    {
        await using var container = await Httpd.StartAsync(fixture.Session, Ct);
        var address = container.GetBaseAddress(80);
        Assert.True(await LoopbackHttp.AnswersAsync(address, TimeSpan.FromSeconds(2)));

        await container.KillAsync(cancellationToken: Ct);

        Assert.Equal(137, await container.WaitForExitAsync(Ct));
        Assert.False(await LoopbackHttp.AnswersAsync(address, TimeSpan.FromSeconds(2)));
        Assert.Equal("exited", (await container.GetStateAsync(Ct)).Status);
    }

    [Fact]
    public async Task A_paused_container_stops_answering_and_unpausing_restores_service()
    {
        await using var container = await Httpd.StartAsync(fixture.Session, Ct);
        var address = container.GetBaseAddress(80);

        await container.PauseAsync(Ct);
        var answeredWhilePaused = await LoopbackHttp.AnswersAsync(address, TimeSpan.FromMilliseconds(800));
        var state = await container.GetStateAsync(Ct);
        await container.UnpauseAsync(Ct);

        Assert.False(answeredWhilePaused);
        Assert.True(state.IsPaused);
        Assert.True(await LoopbackHttp.AnswersAsync(address, TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task A_stopped_container_has_no_mapped_port_and_serves_again_after_start()
    {
        await using var container = await Httpd.StartAsync(fixture.Session, Ct);

        await container.StopAsync(TimeSpan.FromSeconds(1), Ct);
        Assert.Throws<InvalidOperationException>(() => container.GetMappedPort(80));
        await container.StartAsync(Ct);

        Assert.True(await LoopbackHttp.AnswersAsync(container.GetBaseAddress(80), TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public async Task Restart_returns_once_the_container_answers_again()
    {
        await using var container = await Httpd.StartAsync(fixture.Session, Ct);

        await container.RestartAsync(TimeSpan.FromSeconds(1), Ct);

        Assert.True(await LoopbackHttp.AnswersAsync(container.GetBaseAddress(80), TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public async Task Exec_returns_the_exit_code_and_both_output_streams()
    {
        await using var container = await Httpd.StartAsync(fixture.Session, Ct);

        var result = await container.ExecAsync(["/bin/busybox", "sh", "-c", "echo out; echo err >&2; exit 5"], Ct);

        Assert.Equal(5, result.ExitCode);
        Assert.Equal("out\n", result.StandardOutput);
        Assert.Equal("err\n", result.StandardError);
    }

    [Fact]
    public async Task Files_copied_in_before_and_after_start_are_served()
    {
        await using var container = await Httpd
            .WithFile("/www/before-start.txt", Encoding.UTF8.GetBytes("copied before start"))
            .StartAsync(fixture.Session, Ct);

        await container.CopyFileAsync("/www/deep/after-start.txt", Encoding.UTF8.GetBytes("copied while running"), cancellationToken: Ct);

        Assert.Equal("copied before start", await LoopbackHttp.GetStringAsync(new Uri(container.GetBaseAddress(80), "before-start.txt"), Ct));
        Assert.Equal("copied while running", await LoopbackHttp.GetStringAsync(new Uri(container.GetBaseAddress(80), "deep/after-start.txt"), Ct));
    }

    [Fact]
    public async Task Environment_labels_and_command_are_applied()
    {
        await using var container = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithEnvironment("GREETING", "hi there")
            .WithLabel("team", "mesh")
            .WithEntrypoint("/bin/busybox")
            .WithCommand("sh", "-c", "echo \"$GREETING\"; sleep 30")
            .WithWaitStrategy(WaitStrategy.ForLogLine("hi there"))
            .StartAsync(fixture.Session, Ct);

        var inspect = await fixture.Engine.Client.Containers.InspectContainerAsync(container.Id, Ct);

        Assert.Equal("mesh", inspect.Config!.Labels!["team"]);
        Assert.Equal(fixture.Session.Id, inspect.Config.Labels[DockerLabels.SessionId]);
        Assert.Equal(["sh", "-c", "echo \"$GREETING\"; sleep 30"], inspect.Config.Cmd);
    }

    [Fact]
    public async Task Logs_are_followed_as_they_are_written_each_line_with_its_stream()
    {
        await using var container = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithEntrypoint("/bin/busybox")
            .WithCommand("sh", "-c", "for i in 1 2 3; do echo line-$i; echo warn-$i >&2; sleep 0.2; done; sleep 30")
            .StartAsync(fixture.Session, Ct);

        var lines = new List<DockerLogLine>();
        await foreach (var line in container.FollowLogsAsync(Ct))
        {
            lines.Add(line);

            // Standard output and error are separate pipes: their relative order is not guaranteed, so wait for both ends.
            if (lines.Exists(l => l.Text == "line-3") && lines.Exists(l => l.Text == "warn-3"))
            {
                break;
            }
        }

        Assert.Equal(["line-1", "line-2", "line-3"], lines.Where(l => l.Stream == DockerLogStream.StandardOutput).Select(l => l.Text));
        Assert.Equal(["warn-1", "warn-2", "warn-3"], lines.Where(l => l.Stream == DockerLogStream.StandardError).Select(l => l.Text));
    }

    [Fact]
    public async Task A_missing_image_fails_with_404_and_the_engine_message()
    {
        var error = await Assert.ThrowsAsync<DockerEngineException>(() =>
            new DockerContainerBuilder("mesh-tests/does-not-exist:nope").StartAsync(fixture.Session, Ct));

        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Contains("No such image: mesh-tests/does-not-exist:nope", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_conflict_fails_with_409_and_the_engine_message()
    {
        var name = $"mesh-tests-conflict-{Guid.NewGuid():N}";
        await using var first = await Httpd.WithName(name).StartAsync(fixture.Session, Ct);

        var error = await Assert.ThrowsAsync<DockerEngineException>(() => Httpd.WithName(name).StartAsync(fixture.Session, Ct));

        Assert.Equal(HttpStatusCode.Conflict, error.StatusCode);
        Assert.Contains("is already in use", error.EngineMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_port_already_taken_fails_the_start_with_the_engine_message()
    {
        // Ports are published on the engine's host: 127.0.0.1, or the loopback address of a TLS test endpoint.
        using var listener = new TcpListener(IPAddress.Parse(fixture.Engine.Host), 0);
        listener.Start();
        var taken = ((IPEndPoint)listener.LocalEndpoint).Port;

        var error = await Assert.ThrowsAsync<DockerEngineException>(() =>
            new DockerContainerBuilder(fixture.HttpdImage).WithPortBinding(80, taken).StartAsync(fixture.Session, Ct));

        Assert.Contains("Starting container", error.Message, StringComparison.Ordinal);
        Assert.Contains(taken.ToString(System.Globalization.CultureInfo.InvariantCulture), error.EngineMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Looking_up_an_unpublished_port_explains_how_to_publish_it()
    {
        await using var container = await Httpd.StartAsync(fixture.Session, Ct);

        var error = Assert.Throws<InvalidOperationException>(() => container.GetMappedPort(8080));

        Assert.Contains("WithPortBinding(8080)", error.Message, StringComparison.Ordinal);
    }
}
