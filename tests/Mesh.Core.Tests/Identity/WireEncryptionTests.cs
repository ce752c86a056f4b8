using System.Net;
using System.Net.Sockets;
using System.Text;
using Mesh.Identity;
using Mesh.Testing;
using Mesh.Testing.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Tests.Identity;

/// <summary>What a neighbour on the network sees: a TCP relay on loopback between the mesh client and a real Kestrel
/// replica records every byte both ways. Over mutual TLS, no part of the request or the answer is readable; over plain
/// http (the control, which proves the recording works) all of it is.</summary>
public sealed class WireEncryptionTests : IDisposable
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly string _token = $"token-{Guid.NewGuid():N}";
    private readonly string _card = $"card-{Guid.NewGuid():N}";
    private readonly string _receipt = $"receipt-{Guid.NewGuid():N}";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _ca.Dispose();

    private InProcessReplicaOptions Payments(bool tls) => new()
    {
        ConfigureHttps = tls
            ? listen => listen.UseMeshIdentity(o =>
            {
                o.IdentitySource = _ca.CreateIdentitySource("spiffe://mesh.test/payments");
                o.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/storefront"));
            })
            : null,
        ConfigureApp = app => app.MapPost("/pay", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            return context.Request.Headers.Authorization.ToString().Contains(_token, StringComparison.Ordinal) && body.Contains(_card, StringComparison.Ordinal)
                ? Results.Text(_receipt)
                : Results.BadRequest();
        }),
    };

    private async Task<string> PayThroughAsync(Uri endpoint, string? serverIdentity)
    {
        var services = new ServiceCollection();
        if (serverIdentity is not null)
        {
            services.AddMeshIdentity(_ca.CreateIdentitySource("spiffe://mesh.test/storefront"));
        }

        services.AddMeshClient(o =>
        {
            var payments = new MeshServiceOptions { ServerIdentity = serverIdentity };
            payments.Endpoints.Add(new MeshEndpointOptions { Address = endpoint.ToString() });
            o.Services["payments"] = payments;
        });
        services.AddHttpClient("payments", c => c.BaseAddress = new Uri("http://payments")).AddMeshHandler();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("payments");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/pay") { Content = new StringContent($"{{\"card\":\"{_card}\"}}") };
        request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {_token}");
        using var response = await client.SendAsync(request, Token);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync(Token);
    }

    [Fact]
    public async Task A_neighbour_on_the_network_reads_nothing_of_a_request_over_mutual_tls()
    {
        await using var replica = await InProcessReplica.StartAsync("payments", Payments(tls: true), Token);
        await using var relay = await WireRelay.StartAsync(replica.Port);

        Assert.Equal(_receipt, await PayThroughAsync(new Uri($"https://127.0.0.1:{relay.Port}"), "spiffe://mesh.test/payments"));

        var wire = relay.Captured();
        Assert.True(wire.Length > 1000, $"only {wire.Length} bytes were captured");
        Assert.DoesNotContain(_token, wire, StringComparison.Ordinal);
        Assert.DoesNotContain(_card, wire, StringComparison.Ordinal);
        Assert.DoesNotContain(_receipt, wire, StringComparison.Ordinal);
        Assert.DoesNotContain("/pay", wire, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Over_plain_http_the_same_neighbour_reads_everything()
    {
        await using var replica = await InProcessReplica.StartAsync("payments", Payments(tls: false), Token);
        await using var relay = await WireRelay.StartAsync(replica.Port);

        Assert.Equal(_receipt, await PayThroughAsync(new Uri($"http://127.0.0.1:{relay.Port}"), serverIdentity: null));

        var wire = relay.Captured();
        Assert.Contains($"Bearer {_token}", wire, StringComparison.Ordinal);
        Assert.Contains(_card, wire, StringComparison.Ordinal);
        Assert.Contains(_receipt, wire, StringComparison.Ordinal);
        Assert.Contains("POST /pay", wire, StringComparison.Ordinal);
    }

    /// <summary>A loopback TCP relay to 127.0.0.1:<c>targetPort</c> that records the bytes of both directions.</summary>
    private sealed class WireRelay : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly MemoryStream _captured = new();
        private readonly List<Task> _pumps = [];
        private readonly List<TcpClient> _connections = [];
        private readonly int _targetPort;
        private Task? _accepting;

        private WireRelay(int targetPort) => _targetPort = targetPort;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static Task<WireRelay> StartAsync(int targetPort)
        {
            var relay = new WireRelay(targetPort);
            relay._listener.Start();
            relay._accepting = relay.AcceptAsync();
            return Task.FromResult(relay);
        }

        /// <summary>Everything seen so far, both directions, as Latin-1 text (every byte is one character).</summary>
        public string Captured()
        {
            lock (_captured)
            {
                return Encoding.Latin1.GetString(_captured.GetBuffer(), 0, (int)_captured.Length);
            }
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient inbound;
                try
                {
                    inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }

                var outbound = new TcpClient();
                lock (_pumps)
                {
                    _connections.Add(inbound);
                    _connections.Add(outbound);
                }

                try
                {
                    await outbound.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                    return;
                }

                lock (_pumps)
                {
                    _pumps.Add(PumpAsync(inbound, outbound));
                    _pumps.Add(PumpAsync(outbound, inbound));
                }
            }
        }

        private async Task PumpAsync(TcpClient from, TcpClient to)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await from.GetStream().ReadAsync(buffer, _stop.Token)) > 0)
                {
                    lock (_captured)
                    {
                        _captured.Write(buffer, 0, read);
                    }

                    await to.GetStream().WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                }

                to.Client?.Shutdown(SocketShutdown.Send); // null once DisposeAsync disposed the TcpClient
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
            {
                // a side closed or the relay stops (a TcpClient disposed by DisposeAsync between two reads is "not
                // connected": InvalidOperationException from GetStream)
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            if (_accepting is not null)
            {
                await _accepting;
            }

            Task[] pumps;
            lock (_pumps)
            {
                pumps = [.. _pumps];
                foreach (var connection in _connections)
                {
                    connection.Dispose();
                }
            }

            await Task.WhenAll(pumps).WaitAsync(TimeSpan.FromSeconds(5));
            _stop.Dispose();
        }
    }
}
