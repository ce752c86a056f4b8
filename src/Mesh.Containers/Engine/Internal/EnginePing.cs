using System.Net.Sockets;

namespace Mesh.Containers.Internal;

/// <summary>Sends <c>GET /_ping</c> to an endpoint with a plain HttpClient, to read the <c>Api-Version</c> header
/// (the Docker.DotNet ping does not expose headers).</summary>
internal static class EnginePing
{
    public readonly record struct Answer(string? ApiVersion, string? Server);

    public static async Task<Answer> PingAsync(Uri endpoint, EngineTls? tls, EngineCertificateVerifier? verifier, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var handler = CreateHandler(endpoint, tls, verifier, out var baseAddress);
        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var response = await client.GetAsync(new Uri(baseAddress, "_ping"), HttpCompletionOption.ResponseHeadersRead, cts.Token).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            var api = response.Headers.TryGetValues("Api-Version", out var values) ? values.FirstOrDefault() : null;
            var server = response.Headers.Server.Count > 0 ? response.Headers.Server.ToString() : null;
            return new Answer(api, server);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer to GET /_ping within {timeout.TotalSeconds:0.#} s");
        }
    }

    private static SocketsHttpHandler CreateHandler(Uri endpoint, EngineTls? tls, EngineCertificateVerifier? verifier, out Uri baseAddress)
    {
        var handler = new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false };
        if (tls is not null)
        {
            tls.Configure(handler, verifier!);
        }

        if (endpoint.Scheme == "unix")
        {
            var path = endpoint.LocalPath;
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            baseAddress = new Uri("http://localhost/");
        }
        else
        {
            baseAddress = new UriBuilder(endpoint) { Scheme = tls is null ? "http" : "https", Path = "/" }.Uri;
        }

        return handler;
    }
}
