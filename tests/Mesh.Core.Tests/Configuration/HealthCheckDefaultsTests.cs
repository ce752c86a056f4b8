using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.Tests.Configuration;

/// <summary>
/// Defaults never contradict a single setting (issue #15, item 4): a user who sets one key gets a configuration that
/// starts, and the defaults of the keys they did not write follow it.
/// </summary>
public sealed class HealthCheckDefaultsTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static string Address(Uri address) => address.ToString().TrimEnd('/');

    [Fact]
    public async Task An_interval_set_alone_below_two_seconds_starts_and_checks_with_it()
    {
        await using var replica = await InProcessReplica.StartAsync("r0", cancellationToken: Token);
        using var app = new UserApp().WithJson($$"""
            { "Mesh": { "Services": { "catalog": {
                "Endpoints": [ "{{Address(replica.Address)}}" ],
                "HealthCheck": { "Path": "/healthz", "Interval": "00:00:00.500" } } } } }
            """);
        using var host = app.BuildWithMeshClient();

        await host.StartAsync(Token);
        replica.Behavior.Healthy = false;

        var monitor = host.Services.GetRequiredService<MeshMonitor>();
        await UserApp.WaitUntilAsync(() => monitor.GetService("catalog").Endpoints[0].Health == MeshEndpointHealth.Unhealthy,
            TimeSpan.FromSeconds(10), "the failing endpoint is marked unhealthy");
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task An_unset_timeout_is_the_interval_when_that_is_shorter_than_two_seconds()
    {
        await using var server = await HealthServer.StartAsync(answerAfter: TimeSpan.FromSeconds(30));
        using var app = new UserApp().WithJson($$"""
            { "Mesh": { "Services": { "catalog": {
                "Endpoints": [ "{{server.Address}}" ],
                "HealthCheck": { "Path": "/healthz", "Interval": "00:00:00.300", "UnhealthyThreshold": 1 } } } } }
            """);
        using var host = app.BuildWithMeshClient();
        await host.StartAsync(Token);

        var monitor = host.Services.GetRequiredService<MeshMonitor>();
        await UserApp.WaitUntilAsync(() => monitor.GetService("catalog").Endpoints[0].Health == MeshEndpointHealth.Unhealthy,
            TimeSpan.FromSeconds(10), "the endpoint whose check never answers is marked unhealthy");

        Assert.Contains("no answer within 00:00:00.3000000", monitor.GetService("catalog").Endpoints[0].Reason, StringComparison.Ordinal);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_timeout_above_the_interval_is_allowed_and_checks_of_one_endpoint_never_overlap()
    {
        await using var slow = await HealthServer.StartAsync(answerAfter: TimeSpan.FromMilliseconds(700));
        await using var fast = await HealthServer.StartAsync(answerAfter: TimeSpan.Zero);
        using var app = new UserApp().WithJson($$"""
            { "Mesh": { "Services": { "catalog": {
                "Endpoints": [ "{{slow.Address}}", "{{fast.Address}}" ],
                "HealthCheck": { "Path": "/healthz", "Interval": "00:00:00.200", "Timeout": "00:00:01" } } } } }
            """);
        using var host = app.BuildWithMeshClient();
        await host.StartAsync(Token);

        await UserApp.WaitUntilAsync(() => slow.Checks >= 3, TimeSpan.FromSeconds(15), "the slow endpoint was checked three times");
        await host.StopAsync(Token);

        Assert.Equal(1, slow.MostAtOnce);
        Assert.Equal(1, fast.MostAtOnce);
        Assert.All(host.Services.GetRequiredService<MeshMonitor>().GetService("catalog").Endpoints, e => Assert.Equal(MeshEndpointHealth.Healthy, e.Health));

        // The slow endpoint does not hold back the checks of the others: they keep their own cadence.
        Assert.True(fast.Checks >= 2 * slow.Checks, $"fast endpoint checked {fast.Checks} times, slow one {slow.Checks} times");
    }

    [Fact]
    public async Task A_base_ejection_time_set_alone_above_five_minutes_starts_and_raises_the_maximum()
    {
        await using var replica = await InProcessReplica.StartAsync("r0", cancellationToken: Token);
        using var app = new UserApp().WithJson($$"""
            { "Mesh": { "Services": { "catalog": {
                "Endpoints": [ "{{Address(replica.Address)}}" ],
                "OutlierDetection": { "BaseEjectionTime": "00:10:00" } } } } }
            """);
        using var host = app.BuildWithMeshClient();

        await host.StartAsync(Token);

        Assert.Equal("r0", await UserApp.GetReplicaAsync(host));
        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<MeshOptions>>().CurrentValue;
        Assert.Equal(TimeSpan.FromMinutes(10), options.Services["catalog"].OutlierDetection.MaxEjectionTime);
        await host.StopAsync(Token);
    }

    /// <summary>A real Kestrel server whose <c>/healthz</c> answers 200 after a delay, counting checks and overlaps.</summary>
    private sealed class HealthServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _inFlight;
        private int _mostAtOnce;
        private int _checks;

        private HealthServer(WebApplication app) => _app = app;

        public string Address { get; private set; } = "";

        public int Checks => Volatile.Read(ref _checks);

        public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

        public static async Task<HealthServer> StartAsync(TimeSpan answerAfter)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
            var app = builder.Build();
            var server = new HealthServer(app);
            app.MapGet("/healthz", async (HttpContext context) =>
            {
                Interlocked.Increment(ref server._checks);
                var now = Interlocked.Increment(ref server._inFlight);
                for (var seen = Volatile.Read(ref server._mostAtOnce); now > seen && Interlocked.CompareExchange(ref server._mostAtOnce, now, seen) != seen; seen = Volatile.Read(ref server._mostAtOnce))
                {
                }

                try
                {
                    await Task.Delay(answerAfter, context.RequestAborted);
                    return Results.Ok("healthy");
                }
                finally
                {
                    Interlocked.Decrement(ref server._inFlight);
                }
            });
            await app.StartAsync(Token);
            server.Address = app.Urls.Single().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }
    }
}
