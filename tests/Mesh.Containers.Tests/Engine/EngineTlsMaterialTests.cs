using Mesh.Containers.Internal;
using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Engine;

/// <summary>The TLS material is checked before connecting; every problem names the file and the reason.</summary>
public sealed class EngineTlsMaterialTests
{
    private static readonly Uri Endpoint = new("tcp://docker:2376");

    [Fact]
    public void Valid_material_loads_the_ca_and_the_client_certificate_with_its_key()
    {
        using var ca = TestPki.CreateCa("CA");
        using var client = TestPki.IssueClient(ca);

        using var tls = EngineTls.Load(Settings(TestPki.WriteCertificateDirectory(ca, client)), Endpoint, TimeProvider.System);

        Assert.Equal(ca.Thumbprint, Assert.Single(tls.Roots!).Thumbprint);
        Assert.Equal(client.Thumbprint, tls.ClientCertificate!.Thumbprint);
        Assert.True(tls.ClientCertificate.HasPrivateKey);
    }

    [Fact]
    public void Expiry_is_judged_on_the_injected_clock()
    {
        using var ca = TestPki.CreateCa("CA");
        using var client = TestPki.IssueClient(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        var directory = TestPki.WriteCertificateDirectory(ca, client);

        var error = Assert.Throws<DockerEngineUnavailableException>(() => EngineTls.Load(Settings(directory), Endpoint, new FixedClock(DateTimeOffset.UtcNow.AddDays(2))));

        Assert.Contains(Path.Combine(directory, "cert.pem") + ": the client certificate expired on", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_not_yet_valid_is_reported_pointing_at_the_clock()
    {
        using var ca = TestPki.CreateCa("CA");
        using var client = TestPki.IssueClient(ca, DateTimeOffset.UtcNow.AddDays(1), DateTimeOffset.UtcNow.AddDays(5));

        var error = Assert.Throws<DockerEngineUnavailableException>(() => EngineTls.Load(Settings(TestPki.WriteCertificateDirectory(ca, client)), Endpoint, TimeProvider.System));

        Assert.Contains("is not valid before", error.Message, StringComparison.Ordinal);
        Assert.Contains("clock", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_key_of_another_certificate_is_reported_naming_both_files()
    {
        using var ca = TestPki.CreateCa("CA");
        using var client = TestPki.IssueClient(ca);
        using var other = TestPki.IssueClient(ca);
        var directory = TestPki.WriteCertificateDirectory(ca, client);
        File.Copy(Path.Combine(TestPki.WriteCertificateDirectory(ca, other), "key.pem"), Path.Combine(directory, "key.pem"), overwrite: true);

        var error = Assert.Throws<DockerEngineUnavailableException>(() => EngineTls.Load(Settings(directory), Endpoint, TimeProvider.System));

        Assert.Contains($"{Path.Combine(directory, "cert.pem")} with {Path.Combine(directory, "key.pem")} could not be loaded", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ca_file_without_a_certificate_is_reported_naming_the_file()
    {
        using var ca = TestPki.CreateCa("CA");
        using var client = TestPki.IssueClient(ca);
        var directory = TestPki.WriteCertificateDirectory(ca, client);
        File.WriteAllText(Path.Combine(directory, "ca.pem"), "not a certificate\n");

        var error = Assert.Throws<DockerEngineUnavailableException>(() => EngineTls.Load(Settings(directory), Endpoint, TimeProvider.System));

        Assert.Contains(Path.Combine(directory, "ca.pem") + " holds no PEM certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_server_certificate_used_as_the_client_certificate_is_reported()
    {
        using var ca = TestPki.CreateCa("CA");
        using var server = TestPki.IssueServer(ca, [System.Net.IPAddress.Loopback]);

        var error = Assert.Throws<DockerEngineUnavailableException>(() => EngineTls.Load(Settings(TestPki.WriteCertificateDirectory(ca, server)), Endpoint, TimeProvider.System));

        Assert.Contains("not valid for client authentication", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_directory_is_reported_with_where_it_came_from()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() =>
            EngineTls.Load(new EngineTlsSettings("/nonexistent/certs", "DOCKER_CERT_PATH=/nonexistent/certs", Required: true), Endpoint, TimeProvider.System));

        Assert.Contains("(DOCKER_CERT_PATH=/nonexistent/certs): the directory /nonexistent/certs does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Context_material_may_lack_the_client_certificate_but_not_half_of_it()
    {
        using var ca = TestPki.CreateCa("CA");
        using var client = TestPki.IssueClient(ca);
        var caOnly = TestPki.WriteCertificateDirectory(ca, client: null);
        var half = TestPki.WriteCertificateDirectory(ca, client);
        File.Delete(Path.Combine(half, "key.pem"));

        using var tls = EngineTls.Load(new EngineTlsSettings(caOnly, "docker context 'x'", Required: false), Endpoint, TimeProvider.System);
        var error = Assert.Throws<DockerEngineUnavailableException>(() => EngineTls.Load(new EngineTlsSettings(half, "docker context 'x'", Required: false), Endpoint, TimeProvider.System));

        Assert.Null(tls.ClientCertificate);
        Assert.Contains(Path.Combine(half, "key.pem") + " does not exist", error.Message, StringComparison.Ordinal);
    }

    private static EngineTlsSettings Settings(string directory) => new(directory, $"DOCKER_CERT_PATH={directory}", Required: true);

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
