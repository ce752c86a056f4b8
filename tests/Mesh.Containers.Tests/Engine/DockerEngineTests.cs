using System.Net;
using System.Net.Sockets;
using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Engine;

public sealed class DockerEngineTests(DockerFixture fixture)
{
    [Fact]
    public void Connect_negotiates_the_highest_version_both_speak()
    {
        var engine = fixture.Engine;

        var expected = engine.EngineApiVersion < DockerEngine.MaximumApiVersion ? engine.EngineApiVersion : DockerEngine.MaximumApiVersion;
        Assert.Equal(expected, engine.ApiVersion);
        Assert.True(engine.ApiVersion >= DockerEngine.MinimumApiVersion);
    }

    /// <summary>test.sh runs this suite a second time with DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH naming a TLS
    /// endpoint: then every test of the suite must really go through it.</summary>
    [Fact]
    public void The_suite_runs_on_the_engine_the_environment_names()
    {
        var engine = fixture.Engine;
        var dockerHost = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (string.IsNullOrWhiteSpace(dockerHost))
        {
            Assert.False(engine.UsesTls);
            Assert.Equal("127.0.0.1", engine.Host);
            return;
        }

        var expected = new Uri(dockerHost);
        Assert.Equal(expected.Host, engine.Endpoint.Host);
        Assert.Equal(expected.Port, engine.Endpoint.Port);
        Assert.Equal(Environment.GetEnvironmentVariable("DOCKER_TLS_VERIFY") is "1" or "true", engine.UsesTls);
        Assert.Equal(expected.Scheme == "unix" ? "127.0.0.1" : expected.Host, engine.Host);
    }

    [Fact]
    public async Task A_missing_socket_is_reported_with_the_endpoint_tried_and_how_to_start_an_engine()
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-engine-{Guid.NewGuid():N}.sock");

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() =>
            DockerEngine.ConnectAsync(new DockerEngineOptions { Endpoint = new Uri("unix://" + path) }, TestContext.Current.CancellationToken));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("dockerd", error.Message, StringComparison.Ordinal);
        Assert.Contains("DOCKER_HOST", error.Message, StringComparison.Ordinal);
        Assert.Single(error.EndpointsTried);
    }

    [Fact]
    public async Task A_closed_tcp_port_is_reported_naming_the_endpoint_with_the_connect_failure()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() =>
            DockerEngine.ConnectAsync(new DockerEngineOptions { Endpoint = new Uri($"tcp://127.0.0.1:{port}"), ConnectTimeout = TimeSpan.FromSeconds(2) }, TestContext.Current.CancellationToken));

        Assert.Contains($"tcp://127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.InnerException);
    }
}
