using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Containers.Tests.TestSupport;

/// <summary>
/// The engine served over TLS with client-certificate verification, the way <c>dockerd --tlsverify</c> serves it:
/// listens on a loopback address, requires a client certificate issued by <paramref name="clientCa"/>, and forwards
/// each connection to the engine's Unix socket. Handshakes it refused are recorded with the reason.
/// </summary>
internal sealed class TlsEngineEndpoint : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly X509Certificate2 _serverCertificate;
    private readonly X509Certificate2 _clientCa;
    private readonly string _socketPath;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Socket> _open = [];
    private readonly Task _accepting;

    public TlsEngineEndpoint(IPAddress address, X509Certificate2 serverCertificate, X509Certificate2 clientCa, string socketPath = "/var/run/docker.sock")
    {
        _serverCertificate = serverCertificate;
        _clientCa = clientCa;
        _socketPath = socketPath;
        _listener = new TcpListener(address, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public Uri Endpoint => new($"tcp://{((IPEndPoint)_listener.LocalEndpoint).Address}:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    /// <summary>Reasons of the handshakes this endpoint refused (client certificate missing or not issued by its CA).</summary>
    public ConcurrentQueue<string> Refused { get; } = new();

    /// <summary>Subjects of the client certificates of completed handshakes.</summary>
    public ConcurrentQueue<string> Accepted { get; } = new();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var socket in _open)
        {
            socket.Dispose();
        }

        try
        {
            await _accepting;
        }
        catch (Exception)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            _open.Add(client);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        string? refusal = null;
        var tls = new SslStream(new NetworkStream(client, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            handshake.CancelAfter(TimeSpan.FromSeconds(10));
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _serverCertificate,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    refusal = VerifyClient(certificate, errors);
                    return refusal is null;
                },
            }, handshake.Token);
        }
        catch (Exception e)
        {
            Refused.Enqueue(refusal ?? e.Message);
            await tls.DisposeAsync();
            return;
        }

        Accepted.Enqueue(tls.RemoteCertificate?.Subject ?? "(none)");
        var engine = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _open.Add(engine);
        try
        {
            await engine.ConnectAsync(new UnixDomainSocketEndPoint(_socketPath), _stop.Token);
            var engineStream = new NetworkStream(engine, ownsSocket: false);
            var up = PumpAsync(tls, engineStream, () => engine.Shutdown(SocketShutdown.Send));
            var down = PumpAsync(engineStream, tls, () => tls.ShutdownAsync().GetAwaiter().GetResult());
            await Task.WhenAll(up, down);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection ended.
        }
        finally
        {
            engine.Dispose();
            await tls.DisposeAsync();
        }
    }

    private string? VerifyClient(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return "no client certificate";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_clientCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2"));
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf)
            ? null
            : $"client certificate '{leaf.Subject}' refused: " + string.Join("; ", chain.ChainStatus.Select(s => s.Status));
    }

    private static async Task PumpAsync(Stream from, Stream to, Action endOfStream)
    {
        var buffer = new byte[32 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer)) > 0)
            {
                await to.WriteAsync(buffer.AsMemory(0, read));
                await to.FlushAsync();
            }

            endOfStream();
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // One side went away; the other pump ends with it.
        }
    }
}
