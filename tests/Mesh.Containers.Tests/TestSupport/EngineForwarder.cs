using System.Net;
using System.Net.Sockets;

namespace Mesh.Containers.Tests.TestSupport;

/// <summary>Forwards 127.0.0.1:{port} to the engine's Unix socket, and can drop every open connection at once —
/// an engine connection failure on demand.</summary>
internal sealed class EngineForwarder : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(Socket Client, Socket Engine)> _connections = [];
    private readonly Task _accepting;

    public EngineForwarder(string socketPath = "/var/run/docker.sock")
    {
        _listener.Start();
        _accepting = AcceptAsync(socketPath);
    }

    public Uri Endpoint => new($"tcp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    public void DropAll()
    {
        lock (_connections)
        {
            foreach (var (client, engine) in _connections)
            {
                client.Dispose();
                engine.Dispose();
            }

            _connections.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        DropAll();
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

    private async Task AcceptAsync(string socketPath)
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            var engine = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await engine.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), _stop.Token);
            lock (_connections)
            {
                _connections.Add((client, engine));
            }

            _ = PumpAsync(client, engine);
            _ = PumpAsync(engine, client);
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16384];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection was dropped.
        }
    }
}
