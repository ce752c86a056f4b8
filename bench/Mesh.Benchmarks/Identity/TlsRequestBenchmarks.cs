using System.Net;
using BenchmarkDotNet.Attributes;
using Mesh.Identity;
using Mesh.Identity.Internal;
using Mesh.Testing.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Benchmarks.Identity;

/// <summary>
/// One GET on an already established HTTP/1.1 TLS connection to in-process Kestrel on loopback.
/// Baseline: the mesh's TLS setup (same certificates, protocols and Kestrel callback path) with the SPIFFE checks
/// replaced by "accept"; MeshTls: UseMeshIdentity + MeshTlsClient; KestrelHttps: Kestrel's standard UseHttps with a
/// default SocketsHttpHandler, for reference. SPIFFE checks run only at the handshake, so Baseline and MeshTls should cost the same.
/// </summary>
[MemoryDiagnoser]
public class TlsRequestBenchmarks
{
    private DevelopmentCertificateAuthority _ca = null!;
    private WebApplication _app = null!;
    private HttpClient _meshClient = null!;
    private HttpClient _baselineClient = null!;
    private HttpClient _kestrelClient = null!;
    private Uri _meshUri = null!;
    private Uri _baselineUri = null!;
    private Uri _kestrelUri = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _ca = DevelopmentCertificateAuthority.Create("mesh.test");
        var serverIdentity = _ca.CreateIdentitySource("spiffe://mesh.test/catalog");
        var clientIdentity = _ca.CreateIdentitySource("spiffe://mesh.test/orders");
        var serverPattern = SpiffeIdPattern.Parse("spiffe://mesh.test/catalog");
        var noChecks = new MeshTlsServerAuthenticator(serverIdentity, [SpiffeIdPattern.Parse("spiffe://mesh.test/*")], null, NullLogger.Instance, MeshServerMetrics.For(null));

        ListenOptions? mesh = null, baseline = null, kestrel = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.Listen(IPAddress.Loopback, 0, listen => (mesh = listen).UseMeshIdentity(o =>
            {
                o.IdentitySource = serverIdentity;
                o.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/orders"));
            }));
            options.Listen(IPAddress.Loopback, 0, listen => (baseline = listen).UseHttps(new TlsHandshakeCallbackOptions
            {
                OnConnection = context =>
                {
                    var tls = noChecks.CreateOptions(context.Connection);
                    tls.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
                    return ValueTask.FromResult(tls);
                },
            }));
            options.Listen(IPAddress.Loopback, 0, listen => (kestrel = listen).UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = serverIdentity.Current.Svid.Certificate,
                ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                ClientCertificateValidation = static (_, _, _) => true,
            }));
        });
        _app = builder.Build();
        _app.MapGet("/ping", static () => "pong");
        await _app.StartAsync();
        // Kestrel writes the bound (dynamic) port back to each ListenOptions.
        _meshUri = new Uri($"https://127.0.0.1:{mesh!.IPEndPoint!.Port}/ping");
        _baselineUri = new Uri($"https://127.0.0.1:{baseline!.IPEndPoint!.Port}/ping");
        _kestrelUri = new Uri($"https://127.0.0.1:{kestrel!.IPEndPoint!.Port}/ping");

        var meshHandler = MeshTlsClient.Configure(new SocketsHttpHandler(), clientIdentity, serverPattern);
        meshHandler.PooledConnectionLifetime = Timeout.InfiniteTimeSpan;
        _meshClient = new HttpClient(meshHandler);

        var baselineHandler = MeshTlsClient.Configure(new SocketsHttpHandler(), clientIdentity, serverPattern);
        baselineHandler.PooledConnectionLifetime = Timeout.InfiniteTimeSpan;
        baselineHandler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        _baselineClient = new HttpClient(baselineHandler);

        var kestrelHandler = new SocketsHttpHandler();
        var clientCertificate = clientIdentity.Current.Svid.Certificate;
        kestrelHandler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        kestrelHandler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        _kestrelClient = new HttpClient(kestrelHandler);

        // Establish the connections so that the benchmark measures requests only.
        await MeshTls();
        await Baseline();
        await KestrelHttps();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _meshClient.Dispose();
        _baselineClient.Dispose();
        _kestrelClient.Dispose();
        await _app.DisposeAsync();
        _ca.Dispose();
    }

    [Benchmark(Baseline = true, Description = "GET, same TLS setup without SPIFFE checks")]
    public Task<string> Baseline() => _baselineClient.GetStringAsync(_baselineUri);

    [Benchmark(Description = "GET, mesh mTLS (SPIFFE checks at handshake)")]
    public Task<string> MeshTls() => _meshClient.GetStringAsync(_meshUri);

    [Benchmark(Description = "GET, Kestrel UseHttps + default handler (reference)")]
    public Task<string> KestrelHttps() => _kestrelClient.GetStringAsync(_kestrelUri);
}
