using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Mesh.Identity;
using Mesh.Identity.Internal;
using Mesh.Testing.Identity;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Benchmarks.Identity;

/// <summary>
/// One full mutual-TLS handshake over loopback TCP (both sides, TLS 1.3, ECDSA P-256, no resumption), with the mesh's
/// SPIFFE checks on both sides (X.509-SVID validation against the peer's trust-domain bundle and authorization) against
/// the same handshake with the same certificates and options whose validation callbacks accept everything.
/// "warm": the peers' chains were verified before (every connection after the first between two workloads);
/// "cold": fresh validators, so both chains are built (the first connection with a new SVID).
/// </summary>
[MemoryDiagnoser]
public class TlsHandshakeBenchmarks
{
    private DevelopmentCertificateAuthority _ca = null!;
    private Socket _listener = null!;
    private IPEndPoint _endpoint = null!;
    private MeshInMemoryIdentitySource _serverIdentity = null!;
    private MeshInMemoryIdentitySource _clientIdentity = null!;
    private MeshTlsServerAuthenticator _meshServer = null!;
    private SslClientAuthenticationOptions _meshClient = null!;
    private SslClientAuthenticationOptions _plainClient = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ca = DevelopmentCertificateAuthority.Create("mesh.test");
        _serverIdentity = _ca.CreateIdentitySource("spiffe://mesh.test/catalog");
        _clientIdentity = _ca.CreateIdentitySource("spiffe://mesh.test/orders");
        _meshServer = NewServer();
        var client = NewClient();
        _meshClient = client.CreateOptions("127.0.0.1");
        _plainClient = client.CreateOptions("127.0.0.1");
        _plainClient.RemoteCertificateValidationCallback = static (_, _, _, _) => true;

        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        _endpoint = (IPEndPoint)_listener.LocalEndPoint!;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener.Dispose();
        _ca.Dispose();
    }

    [Benchmark(Baseline = true, Description = "TLS handshake, no SPIFFE checks")]
    public Task PlainTls()
    {
        var server = _meshServer.CreateOptions(null);
        server.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        return HandshakeAsync(server, _plainClient);
    }

    [Benchmark(Description = "TLS handshake, SPIFFE checks both sides, warm")]
    public Task MeshIdentity() => HandshakeAsync(_meshServer.CreateOptions(null), _meshClient);

    [Benchmark(Description = "TLS handshake, SPIFFE checks both sides, cold")]
    public Task MeshIdentityCold() => HandshakeAsync(NewServer().CreateOptions(null), NewClient().CreateOptions("127.0.0.1"));

    private MeshTlsServerAuthenticator NewServer() =>
        new(_serverIdentity, [SpiffeIdPattern.Parse("spiffe://mesh.test/orders")], null, NullLogger.Instance, MeshServerMetrics.For(null));

    private MeshTlsClientAuthenticator NewClient() =>
        new(_clientIdentity, SpiffeIdPattern.Parse("spiffe://mesh.test/catalog"), null, null);

    private async Task HandshakeAsync(SslServerAuthenticationOptions serverOptions, SslClientAuthenticationOptions clientOptions)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accept = _listener.AcceptAsync();
        await client.ConnectAsync(_endpoint);
        using var server = await accept;
        await using var clientTls = new SslStream(new NetworkStream(client, ownsSocket: false));
        await using var serverTls = new SslStream(new NetworkStream(server, ownsSocket: false));
        await Task.WhenAll(clientTls.AuthenticateAsClientAsync(clientOptions), serverTls.AuthenticateAsServerAsync(serverOptions));
    }
}
