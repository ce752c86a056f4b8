using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Containers.Tests.TestSupport;

/// <summary>
/// A TLS engine endpoint on <see cref="Address"/> with certificates made for the test: a CA, the engine's certificate
/// for that address, and a client certificate in a docker-style directory (<c>ca.pem</c>, <c>cert.pem</c>, <c>key.pem</c>).
/// The address is a loopback address other than 127.0.0.1, so that "ports are reached on the engine's host" shows.
/// </summary>
internal sealed class TlsEngineSetup : IAsyncDisposable
{
    public static readonly IPAddress Address = IPAddress.Parse("127.0.0.3");

    private TlsEngineSetup(X509Certificate2 ca, X509Certificate2 server, X509Certificate2 client, TlsEngineEndpoint endpoint, string directory)
    {
        Ca = ca;
        Server = server;
        Client = client;
        Endpoint = endpoint;
        Directory = directory;
    }

    public X509Certificate2 Ca { get; }

    public X509Certificate2 Server { get; }

    public X509Certificate2 Client { get; }

    public TlsEngineEndpoint Endpoint { get; }

    /// <summary>The client's docker certificate directory: the right CA, a valid client certificate.</summary>
    public string Directory { get; }

    public string CaFile => Path.Combine(Directory, "ca.pem");

    public string CertFile => Path.Combine(Directory, "cert.pem");

    /// <param name="server">The engine's certificate; by default one issued by the CA for <see cref="Address"/>.</param>
    public static TlsEngineSetup Start(Func<X509Certificate2, X509Certificate2>? server = null)
    {
        var ca = TestPki.CreateCa("Mesh tests engine CA");
        var serverCertificate = server?.Invoke(ca) ?? TestPki.IssueServer(ca, [Address]);
        var client = TestPki.IssueClient(ca);
        var endpoint = new TlsEngineEndpoint(Address, serverCertificate, ca);
        return new TlsEngineSetup(ca, serverCertificate, client, endpoint, TestPki.WriteCertificateDirectory(ca, client));
    }

    /// <summary>Options that reach the endpoint with the certificates in <paramref name="directory"/> (default: the right ones).</summary>
    public DockerEngineOptions Options(string? directory = null) => new()
    {
        Endpoint = Endpoint.Endpoint,
        TlsVerify = true,
        TlsCertificatePath = directory ?? Directory,
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    public async ValueTask DisposeAsync()
    {
        await Endpoint.DisposeAsync();
        Ca.Dispose();
        Server.Dispose();
        Client.Dispose();
    }
}
