using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Engine;

/// <summary>Docker contexts written by the test into a temporary configuration directory (never the real ~/.docker),
/// decide the engine as with the docker CLI.</summary>
public sealed class DockerContextTests(DockerFixture fixture) : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("mesh-tests-home-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_current_context_with_tls_material_decides_the_engine()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();
        var config = EndpointCandidatesTests.WriteContext(Path.Combine(_home, ".docker"), "mesh-tls", tls.Endpoint.Endpoint.ToString(), withTls: true, tlsFrom: tls.Directory);
        File.WriteAllText(Path.Combine(config, "config.json"), """{ "currentContext": "mesh-tls" }""");

        using var engine = await DockerEngine.ConnectAsync(new DockerEngineOptions(), EngineTlsTests.Env(("HOME", _home)), Ct);
        await using var session = await DockerSession.StartAsync(engine, cancellationToken: Ct);
        await using var web = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithPortBinding(80)
            .WithWaitStrategy(WaitStrategy.ForHttp(80))
            .StartAsync(session, Ct);

        Assert.Equal("mesh-tls", engine.Context);
        Assert.Equal(tls.Endpoint.Endpoint, engine.Endpoint);
        Assert.True(engine.UsesTls);
        Assert.Equal("127.0.0.3", web.GetBaseAddress(80).Host);
        Assert.Contains("Hello from a container", await LoopbackHttp.GetStringAsync(web.GetBaseAddress(80), Ct), StringComparison.Ordinal);
        Assert.Contains("CN=mesh-tests-client", tls.Endpoint.Accepted);
    }

    [Fact]
    public async Task DOCKER_CONTEXT_selects_a_context_in_DOCKER_CONFIG()
    {
        fixture.RequireEngine();
        var config = Path.Combine(_home, "docker-config");
        EndpointCandidatesTests.WriteContext(config, "local-socket", "unix:///var/run/docker.sock", withTls: false);

        using var engine = await DockerEngine.ConnectAsync(new DockerEngineOptions(),
            EngineTlsTests.Env(("DOCKER_CONFIG", config), ("DOCKER_CONTEXT", "local-socket"), ("HOME", "/nonexistent")), Ct);

        Assert.Equal("local-socket", engine.Context);
        Assert.Equal(new Uri("unix:///var/run/docker.sock"), engine.Endpoint);
        Assert.False(engine.UsesTls);
        Assert.Equal("127.0.0.1", engine.Host);
    }

    [Fact]
    public async Task A_context_without_a_client_certificate_against_an_engine_that_requires_one_explains_what_is_missing()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();
        var caOnly = TestPki.WriteCertificateDirectory(tls.Ca, client: null);
        var config = EndpointCandidatesTests.WriteContext(Path.Combine(_home, ".docker"), "no-client-cert", tls.Endpoint.Endpoint.ToString(), withTls: true, tlsFrom: caOnly);

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() =>
            DockerEngine.ConnectAsync(new DockerEngineOptions { Context = "no-client-cert" }, EngineTlsTests.Env(("DOCKER_CONFIG", config)), Ct));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);

        Assert.Contains("The engine requires a client certificate and none was sent", error.Message, StringComparison.Ordinal);
        Assert.Contains("docker context 'no-client-cert'", error.Message, StringComparison.Ordinal);
        Assert.NotEmpty(tls.Endpoint.Refused);
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);
}
