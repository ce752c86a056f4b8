using System.Net;
using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Engine;

/// <summary>An engine served over TLS with client-certificate verification (a TLS terminator in front of the engine's
/// socket, as dockerd --tlsverify serves it), with certificates the tests make.</summary>
public sealed class EngineTlsTests(DockerFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Containers_run_over_tls_and_their_ports_are_reached_on_the_engine_host()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();

        await using var session = await DockerSession.StartAsync(new DockerSessionOptions { Engine = tls.Options() }, Ct);
        await using var web = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithPortBinding(80)
            .WithWaitStrategy(WaitStrategy.ForPort(80).And(WaitStrategy.ForHttp(80)))
            .StartAsync(session, Ct);
        var address = web.GetBaseAddress(80);
        var exec = await web.ExecAsync("/bin/busybox", "echo", "over tls");

        Assert.True(session.Engine.UsesTls);
        Assert.Equal("127.0.0.3", session.Engine.Host);
        Assert.Equal("127.0.0.3", address.Host);
        Assert.Contains("Hello from a container", await LoopbackHttp.GetStringAsync(address, Ct), StringComparison.Ordinal);
        Assert.False(await LoopbackHttp.AnswersAsync(new UriBuilder(address) { Host = "127.0.0.1" }.Uri, TimeSpan.FromSeconds(1)), "published on 127.0.0.3 only");
        Assert.Equal("over tls\n", exec.StandardOutput);
        Assert.Contains("CN=mesh-tests-client", tls.Endpoint.Accepted);
        Assert.Empty(tls.Endpoint.Refused);
    }

    [Fact]
    public async Task DOCKER_HOST_with_DOCKER_TLS_VERIFY_and_DOCKER_CERT_PATH_connects_over_tls()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();
        var environment = Env(("DOCKER_HOST", tls.Endpoint.Endpoint.ToString()), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", tls.Directory));

        using var engine = await DockerEngine.ConnectAsync(new DockerEngineOptions(), environment, Ct);

        Assert.True(engine.UsesTls);
        Assert.Equal(tls.Endpoint.Endpoint, engine.Endpoint);
        Assert.Equal("127.0.0.3", engine.Host);
        Assert.True(await engine.RemoveImageAsync($"mesh-tests/absent:{Guid.NewGuid():N}", cancellationToken: Ct) is false);
    }

    [Fact]
    public async Task A_wrong_ca_is_refused_naming_ca_pem_and_the_reason()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();
        using var otherCa = TestPki.CreateCa("Some other CA");
        var directory = TestPki.WriteCertificateDirectory(otherCa, tls.Client);

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() => DockerEngine.ConnectAsync(tls.Options(directory), Ct));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);

        Assert.Contains(Path.Combine(directory, "ca.pem"), error.Message, StringComparison.Ordinal);
        Assert.Contains("is not issued by that CA", error.Message, StringComparison.Ordinal);
        Assert.Contains("CN=Mesh tests engine CA", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_client_certificate_is_reported_naming_the_file()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();
        var directory = TestPki.WriteCertificateDirectory(tls.Ca, client: null);

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() => DockerEngine.ConnectAsync(tls.Options(directory), Ct));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);

        Assert.Contains(Path.Combine(directory, "cert.pem") + " does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("client's certificate", error.Message, StringComparison.Ordinal);
        Assert.Empty(tls.Endpoint.Accepted);
    }

    [Fact]
    public async Task An_expired_client_certificate_is_reported_naming_the_file_and_when_it_expired()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();
        var expiredOn = DateTimeOffset.UtcNow.AddDays(-1);
        using var expired = TestPki.IssueClient(tls.Ca, DateTimeOffset.UtcNow.AddDays(-30), expiredOn);
        var directory = TestPki.WriteCertificateDirectory(tls.Ca, expired);

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() => DockerEngine.ConnectAsync(tls.Options(directory), Ct));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);

        Assert.Contains(Path.Combine(directory, "cert.pem"), error.Message, StringComparison.Ordinal);
        Assert.Contains($"expired on {expiredOn.UtcDateTime:yyyy-MM-dd}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_certificate_the_engine_does_not_trust_is_reported_naming_the_file_and_its_issuer()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();
        using var otherCa = TestPki.CreateCa("Some other CA");
        using var stranger = TestPki.IssueClient(otherCa);
        var directory = TestPki.WriteCertificateDirectory(tls.Ca, stranger);

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() => DockerEngine.ConnectAsync(tls.Options(directory), Ct));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);

        Assert.Contains("did not accept the client certificate", error.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(directory, "cert.pem"), error.Message, StringComparison.Ordinal);
        Assert.Contains("issuer 'CN=Some other CA'", error.Message, StringComparison.Ordinal);
        Assert.NotEmpty(tls.Endpoint.Refused);
    }

    [Fact]
    public async Task An_expired_engine_certificate_is_refused_naming_ca_pem()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start(ca => TestPki.IssueServer(ca, [TlsEngineSetup.Address], DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(-1)));

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() => DockerEngine.ConnectAsync(tls.Options(), Ct));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);

        Assert.Contains(tls.CaFile, error.Message, StringComparison.Ordinal);
        Assert.Contains("expired or not yet valid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_engine_certificate_for_another_host_is_refused_naming_its_addresses()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start(ca => TestPki.IssueServer(ca, [IPAddress.Parse("127.0.0.9")]));

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() => DockerEngine.ConnectAsync(tls.Options(), Ct));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);

        Assert.Contains("is not issued for '127.0.0.3'", error.Message, StringComparison.Ordinal);
        Assert.Contains("IP:127.0.0.9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plain_connection_to_the_tls_port_is_not_mistaken_for_an_engine()
    {
        fixture.RequireEngine();
        await using var tls = TlsEngineSetup.Start();

        var error = await Assert.ThrowsAsync<DockerEngineUnavailableException>(() =>
            DockerEngine.ConnectAsync(new DockerEngineOptions { Endpoint = tls.Endpoint.Endpoint, ConnectTimeout = TimeSpan.FromSeconds(3) }, Ct));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);

        Assert.Contains(tls.Endpoint.Endpoint.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("if the engine listens with TLS", error.Message, StringComparison.Ordinal);
        Assert.Empty(tls.Endpoint.Accepted);
    }

    internal static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;
}
