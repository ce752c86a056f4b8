namespace Mesh.Containers.Tests;

/// <summary>HTTP to 127.0.0.1 only, with short timeouts and no connection reuse (so a frozen container shows at once).</summary>
internal static class Http
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
        Assert.True(uri.Host == "127.0.0.1", $"tests only send traffic to 127.0.0.1, not {uri.Host}");
        return await Client.GetStringAsync(uri, cancellationToken);
    }

    /// <summary>True when a GET answers with any status within <paramref name="timeout"/>.</summary>
    public static async Task<bool> AnswersAsync(Uri uri, TimeSpan timeout)
    {
        Assert.True(uri.Host == "127.0.0.1", $"tests only send traffic to 127.0.0.1, not {uri.Host}");
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
