namespace Mesh.Containers.Tests.TestSupport;

/// <summary>HTTP to loopback addresses only (127.0.0.0/8: a TLS engine endpoint of the tests may publish ports on 127.0.0.2),
/// with short timeouts and no connection reuse (so a frozen container shows at once).</summary>
internal static class LoopbackHttp
{
    public static HttpClient Client { get; } = new(new SocketsHttpHandler
    {
        UseProxy = false,
        PooledConnectionLifetime = TimeSpan.Zero,
        ConnectTimeout = TimeSpan.FromSeconds(2),
    })
    {
        Timeout = TimeSpan.FromSeconds(5),
    };

    public static async Task<string> GetStringAsync(Uri uri, CancellationToken cancellationToken = default)
    {
        AssertLoopback(uri);
        return await Client.GetStringAsync(uri, cancellationToken);
    }

    public static void AssertLoopback(Uri uri) =>
        Assert.True(System.Net.IPAddress.TryParse(uri.Host, out var address) && System.Net.IPAddress.IsLoopback(address), $"tests only send traffic to loopback addresses, not {uri.Host}");

    /// <summary>True when a GET answers with any status within <paramref name="timeout"/>.</summary>
    public static async Task<bool> AnswersAsync(Uri uri, TimeSpan timeout)
    {
        AssertLoopback(uri);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            using var response = await Client.GetAsync(uri, cts.Token);
            return true;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return false;
        }
    }
}
