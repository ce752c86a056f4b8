using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Networks;

public sealed class DockerNetworkTests(DockerFixture fixture)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_disconnected_container_stops_answering_and_reconnecting_restores_service()
    {
        await using var network = await fixture.Session.CreateNetworkAsync(cancellationToken: Ct);
        await using var container = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithNetwork(network)
            .WithPortBinding(80)
            .WithWaitStrategy(WaitStrategy.ForHttp(80))
            .StartAsync(fixture.Session, Ct);
        var before = container.GetBaseAddress(80);

        await network.DisconnectAsync(container, Ct);
        var answeredWhileDisconnected = await LoopbackHttp.AnswersAsync(before, TimeSpan.FromSeconds(1));
        await network.ConnectAsync(container, cancellationToken: Ct);

        Assert.False(answeredWhileDisconnected);
        Assert.True(await LoopbackHttp.AnswersAsync(container.GetBaseAddress(80), TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task Containers_on_a_network_reach_each_other_until_partitioned()
    {
        await using var network = await fixture.Session.CreateNetworkAsync(cancellationToken: Ct);
        await using var server = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithNetwork(network, "catalog")
            .WithPortBinding(80)
            .WithWaitStrategy(WaitStrategy.ForHttp(80))
            .StartAsync(fixture.Session, Ct);
        await using var client = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithNetwork(network)
            .StartAsync(fixture.Session, Ct);
        // Static busybox's wget crashes in a FROM scratch image (no NSS), so the request is sent with nc to the server's IP on the network.
        var serverAddress = await server.GetIPAddressAsync(network, Ct);
        string[] fetch = ["/bin/busybox", "sh", "-c", $"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 {serverAddress} 80"];

        var connected = await client.ExecAsync(fetch, Ct);
        await network.DisconnectAsync(server, Ct);
        var partitioned = await client.ExecAsync(fetch, Ct);

        Assert.Equal(0, connected.ExitCode);
        Assert.Contains("Hello from a container", connected.StandardOutput, StringComparison.Ordinal);
        Assert.NotEqual(0, partitioned.ExitCode);
    }
}
