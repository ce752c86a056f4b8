using System.Diagnostics;
using Docker.DotNet.Models;
using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Sessions;

public sealed class DockerSessionTests(DockerFixture fixture)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Dispose_removes_every_container_and_network_of_the_session()
    {
        var session = await DockerSession.StartAsync(fixture.Engine, cancellationToken: Ct);
        var network = await session.CreateNetworkAsync(cancellationToken: Ct);
        await new DockerContainerBuilder(fixture.HttpdImage).WithNetwork(network).StartAsync(session, Ct);
        await new DockerContainerBuilder(fixture.HttpdImage).WithNetwork(network).CreateAsync(session, Ct);
        Assert.Equal(2, (await ContainersOf(session.Id)).Count);

        await session.DisposeAsync();

        Assert.Empty(await ContainersOf(session.Id));
        Assert.Empty(await NetworksOf(session.Id));
    }

    [Fact]
    public async Task Resources_of_a_killed_process_are_swept_by_the_next_session()
    {
        using var child = StartChild(fixture.HttpdImage.Reference);
        var sessionId = await ReadSessionIdAsync(child);
        Assert.Single(await ContainersOf(sessionId));
        Assert.Single(await NetworksOf(sessionId));

        child.Kill(entireProcessTree: true);
        await child.WaitForExitAsync(Ct);
        await using var next = await DockerSession.StartAsync(fixture.Engine, cancellationToken: Ct);

        Assert.Empty(await ContainersOf(sessionId));
        Assert.Empty(await NetworksOf(sessionId));
    }

    [Fact]
    public async Task The_sweep_leaves_resources_of_live_sessions_alone()
    {
        await using var other = await DockerSession.StartAsync(fixture.Engine, cancellationToken: Ct);
        await using var container = await new DockerContainerBuilder(fixture.HttpdImage).CreateAsync(other, Ct);

        await using var next = await DockerSession.StartAsync(fixture.Engine, cancellationToken: Ct);

        Assert.Single(await ContainersOf(other.Id));
    }

    [Fact]
    public async Task Dispose_does_not_throw_when_the_engine_is_gone()
    {
        fixture.RequireEngine();
        var forwarder = new EngineForwarder();
        var session = await DockerSession.StartAsync(new DockerSessionOptions
        {
            Engine = new DockerEngineOptions { Endpoint = forwarder.Endpoint, RequestTimeout = TimeSpan.FromSeconds(5) },
            DisposeTimeout = TimeSpan.FromSeconds(5),
        }, Ct);

        await forwarder.DisposeAsync();

        await session.DisposeAsync();
    }

    private static Process StartChild(string image)
    {
        var processPath = Environment.ProcessPath!;
        var info = new ProcessStartInfo(processPath) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(processPath) == "dotnet")
        {
            info.ArgumentList.Add(typeof(DockerSessionTests).Assembly.Location);
        }

        info.Environment[SweepChildProcess.ImageVariable] = image;
        return Process.Start(info)!;
    }

    private async Task<string> ReadSessionIdAsync(Process child)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(60));
        for (var i = 0; i < 1000; i++)
        {
            var line = await child.StandardOutput.ReadLineAsync(cts.Token)
                ?? throw new InvalidOperationException("The child process ended before it was ready.");
            if (line.StartsWith("READY ", StringComparison.Ordinal))
            {
                return line["READY ".Length..];
            }

            Assert.False(line.StartsWith("FAILED", StringComparison.Ordinal), line);
        }

        throw new InvalidOperationException("The child process never said READY.");
    }

    private async Task<IList<ContainerListResponse>> ContainersOf(string sessionId) =>
        await fixture.Engine.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{DockerLabels.SessionId}={sessionId}"] = true } },
        }, Ct);

    private async Task<IList<NetworkResponse>> NetworksOf(string sessionId) =>
        await fixture.Engine.Client.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{DockerLabels.SessionId}={sessionId}"] = true } },
        }, Ct);
}
