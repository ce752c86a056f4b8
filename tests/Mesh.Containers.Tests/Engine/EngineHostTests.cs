using System.Diagnostics;
using System.Net.Sockets;
using Mesh.Containers.Tests.TestSupport;
using Mesh.Testing;

namespace Mesh.Containers.Tests.Engine;

/// <summary>Published ports are reached on the engine's host (or Testcontainers' override), by waits and fleets too;
/// Testcontainers' socket override is what <see cref="DockerContainerBuilder.WithDockerSocket(string)"/> mounts.</summary>
public sealed class EngineHostTests(DockerFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TESTCONTAINERS_HOST_OVERRIDE_decides_where_ports_are_published_and_reached()
    {
        fixture.RequireEngine();
        using var engine = await DockerEngine.ConnectAsync(new DockerEngineOptions(),
            EngineTlsTests.Env(("DOCKER_HOST", "unix:///var/run/docker.sock"), ("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.4")), Ct);
        await using var session = await DockerSession.StartAsync(engine, cancellationToken: Ct);

        await using var web = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithPortBinding(80)
            .WithWaitStrategy(WaitStrategy.ForPort(80).And(WaitStrategy.ForHttp(80)))
            .StartAsync(session, Ct);
        var address = web.GetBaseAddress(80);

        Assert.Equal("127.0.0.4", engine.Host);
        Assert.Equal("127.0.0.4", web.Host);
        Assert.Equal("127.0.0.4", address.Host);
        Assert.Contains("Hello from a container", await LoopbackHttp.GetStringAsync(address, Ct), StringComparison.Ordinal);
        Assert.False(await LoopbackHttp.AnswersAsync(new UriBuilder(address) { Host = "127.0.0.1" }.Uri, TimeSpan.FromSeconds(1)), "published on 127.0.0.4 only");
    }

    [Fact]
    public async Task Fleet_replicas_of_a_tls_engine_are_addressed_on_its_host_across_restarts()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();
        await using var session = await DockerSession.StartAsync(new DockerSessionOptions { Engine = tls.Options() }, Ct);
        await using var template = await ContainerReplicaTemplate.ForImageAsync(session, fixture.HttpdImage.Reference, 80, "/", cancellationToken: Ct);
        await using var fleet = await ServiceFleet.StartAsync("web", 2, template, cancellationToken: Ct);

        Assert.All(fleet.Replicas, r => Assert.Equal("127.0.0.3", r.Address.Host));
        foreach (var replica in fleet.Replicas)
        {
            Assert.Contains("Hello from a container", await LoopbackHttp.GetStringAsync(replica.Address, Ct), StringComparison.Ordinal);
        }

        var first = fleet[0];
        await first.KillAsync(Ct);
        Assert.False(await LoopbackHttp.AnswersAsync(first.Address, TimeSpan.FromSeconds(1)));
        await first.RestartAsync(Ct);
        Assert.Contains("Hello from a container", await LoopbackHttp.GetStringAsync(first.Address, Ct), StringComparison.Ordinal);
        Assert.All(fleet.Endpoints, e => Assert.Equal("127.0.0.3", e.Address.Host));
    }

    [Fact]
    public async Task TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE_is_the_socket_mounted_into_containers()
    {
        fixture.RequireEngine();
        var path = Path.Combine(Path.GetTempPath(), $"mesh-tests-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        try
        {
            using var engine = await DockerEngine.ConnectAsync(new DockerEngineOptions(),
                EngineTlsTests.Env(("DOCKER_HOST", "unix:///var/run/docker.sock"), ("TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE", path)), Ct);
            await using var session = await DockerSession.StartAsync(engine, cancellationToken: Ct);
            await using var container = await new DockerContainerBuilder(fixture.HttpdImage).WithDockerSocket("/run/engine.sock").StartAsync(session, Ct);

            var inside = await container.ExecAsync("/bin/busybox", "stat", "-c", "%F %i", "/run/engine.sock");

            Assert.Equal(0, inside.ExitCode);
            Assert.Equal($"socket {Inode(path)}", inside.StandardOutput.Trim());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Without_a_socket_override_the_engine_socket_is_mounted()
    {
        fixture.RequireEngine();
        using var engine = await DockerEngine.ConnectAsync(new DockerEngineOptions(), EngineTlsTests.Env(("DOCKER_HOST", "unix:///var/run/docker.sock")), Ct);
        await using var session = await DockerSession.StartAsync(engine, cancellationToken: Ct);
        await using var container = await new DockerContainerBuilder(fixture.HttpdImage).WithDockerSocket().StartAsync(session, Ct);

        var inside = await container.ExecAsync("/bin/busybox", "stat", "-L", "-c", "%F %i", "/var/run/docker.sock");

        Assert.Equal($"socket {Inode("/var/run/docker.sock")}", inside.StandardOutput.Trim());
    }

    private static string Inode(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-L", "-c", "%i", path]) { RedirectStandardOutput = true })!;
        var output = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return output;
    }
}
