using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Tests.TestSupport;

/// <summary>An in-process Kestrel server on 127.0.0.1 (dynamic port) for real TLS handshakes, with its logs captured.</summary>
internal sealed class MeshTlsTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MeshTlsTestHost(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
        Logs = app.Services.GetFakeLogCollector();
    }

    public Uri Address { get; }

    public FakeLogCollector Logs { get; }

    /// <summary>The server's services (its <c>IMeterFactory</c>, for metric collectors).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>A server configured with <see cref="MeshKestrelExtensions.UseMeshIdentity"/>.</summary>
    public static Task<MeshTlsTestHost> StartMeshAsync(IMeshIdentitySource identity, params string[] authorizedClients) =>
        StartAsync(listen => listen.UseMeshIdentity(options =>
        {
            options.IdentitySource = identity;
            foreach (var pattern in authorizedClients)
            {
                options.AuthorizedClients.Add(SpiffeIdPattern.Parse(pattern));
            }
        }));

    /// <summary>A plain TLS server presenting any certificate and accepting any client certificate (a misbehaving peer).</summary>
    public static Task<MeshTlsTestHost> StartPlainAsync(X509Certificate2 serverCertificate) =>
        StartAsync(listen => listen.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificate = serverCertificate,
            ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate,
            ClientCertificateValidation = static (_, _, _) => true,
        }));

    private static async Task<MeshTlsTestHost> StartAsync(Action<ListenOptions> configureListen)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddFakeLogging();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            configureListen(listen);
        }));
        var app = builder.Build();
        app.MapGet("/whoami", static (HttpContext context) =>
        {
            var server = context.Features.Get<ISslStreamFeature>()?.SslStream.LocalCertificate as X509Certificate2;
            var answer = string.Join('|',
                context.GetPeerSpiffeId()?.ToString() ?? "-",
                context.Connection.ClientCertificate?.SerialNumber ?? "-",
                server?.SerialNumber ?? "-",
                context.Request.Protocol);
            context.Response.Headers[WhoAmIHeader] = answer; // names each answer for the traffic driver
            return answer;
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new MeshTlsTestHost(app, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
    }

    /// <summary>Waits (bounded) for the server to log a refusal and returns its reason.</summary>
    public async Task<string> WaitForRefusalReasonAsync()
    {
        for (var i = 0; i < 100; i++)
        {
            var refusal = Logs.GetSnapshot().FirstOrDefault(r => r.Id.Name == "PeerRefused");
            if (refusal is not null)
            {
                return refusal.GetStructuredStateValue("Reason") ?? "(no reason)";
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        return "(no refusal logged)";
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    /// <summary>An HttpClient whose handler was configured by <see cref="MeshTlsClient.Configure"/>.</summary>
    public static HttpClient MeshClient(IMeshIdentitySource identity, string expectedServer, TimeSpan? pooledConnectionLifetime = null)
    {
        var handler = new SocketsHttpHandler();
        if (pooledConnectionLifetime is { } lifetime)
        {
            handler.PooledConnectionLifetime = lifetime;
        }

        MeshTlsClient.Configure(handler, identity, SpiffeIdPattern.Parse(expectedServer));
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
    }

    /// <summary>A client that accepts any server and presents <paramref name="clientCertificate"/> (or nothing).</summary>
    public static HttpClient PlainClient(X509Certificate2? clientCertificate)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        if (clientCertificate is not null)
        {
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
    }

    /// <summary>The answer of <c>/whoami</c>: the caller's SPIFFE ID, the client's and the server's certificate serials, the protocol.</summary>
    public sealed record WhoAmI(string PeerId, string ClientSerial, string ServerSerial, string Protocol)
    {
        public static WhoAmI Parse(string text)
        {
            var parts = text.Split('|');
            return new WhoAmI(parts[0], parts[1], parts[2], parts[3]);
        }
    }

    /// <summary>The response header that repeats the answer of <c>/whoami</c>.</summary>
    public const string WhoAmIHeader = "x-whoami";

    /// <summary>Traffic to <c>/whoami</c> over HTTP/1.1 whose answers are named by their text (parse them with <see cref="WhoAmI.Parse"/>).</summary>
    public TrafficOptions WhoAmITraffic(int concurrency, TimeSpan duration) => new()
    {
        Concurrency = concurrency,
        Duration = duration,
        CreateRequest = WhoAmIRequest,
        IdentifyReplica = static response => response.Headers.TryGetValues(WhoAmIHeader, out var v) ? v.Single() : null,
        IsSuccess = static response => response.IsSuccessStatusCode,
    };

    private HttpRequestMessage WhoAmIRequest() => WhoAmIRequest(HttpVersion.Version11);

    private HttpRequestMessage WhoAmIRequest(Version version) =>
        new(HttpMethod.Get, new Uri(Address, "/whoami")) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

    public async Task<WhoAmI> GetWhoAmIAsync(HttpClient client, Version? version = null)
    {
        using var request = WhoAmIRequest(version ?? HttpVersion.Version11);
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        return WhoAmI.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
