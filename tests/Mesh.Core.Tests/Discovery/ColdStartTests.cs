using System.Diagnostics;
using Mesh.Discovery;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Tests.Discovery;

/// <summary>
/// Cold start with any <see cref="IMeshDiscoveryProvider"/>: a request sent right after the host starts waits for the
/// provider's first set (asynchronously, bounded by DiscoveryTimeout and the caller's token) instead of failing with
/// "no endpoints". Real host, real replica; the provider is the app's own, as a user would write one.
/// </summary>
public sealed class ColdStartTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>A provider that resolves slowly: it publishes (or fails) after a delay.</summary>
    private sealed class SlowProvider : IMeshDiscoveryProvider
    {
        public static Func<MeshDiscoveryContext, CancellationToken, Task> Behaviour { get; set; } = static (_, _) => Task.CompletedTask;

        public string Name => "Slow";

        public IAsyncDisposable Watch(MeshDiscoveryContext context)
        {
            var stop = new CancellationTokenSource();
            var run = Task.Run(() => Behaviour(context, stop.Token));
            return new Stopper(stop, run);
        }

        private sealed class Stopper(CancellationTokenSource stop, Task run) : IAsyncDisposable
        {
            public async ValueTask DisposeAsync()
            {
                await stop.CancelAsync();
                await run.ContinueWith(static _ => { }, TaskScheduler.Default);
                stop.Dispose();
            }
        }
    }

    private static IHost Start(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMeshClient();
        builder.Services.AddMeshDiscoveryProvider<SlowProvider>();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        return builder.Build();
    }

    [Fact]
    public async Task A_request_sent_at_once_waits_for_the_providers_first_set()
    {
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: Token);
        SlowProvider.Behaviour = async (context, stop) =>
        {
            await Task.Delay(400, stop);
            context.ReportFailure(new InvalidOperationException("registry warming up")); // a failure does not end the wait
            await Task.Delay(400, stop);
            context.Publish([new MeshEndpoint(replica.Address)]);
        };
        using var host = Start(new() { ["Mesh:Services:catalog:Discovery"] = "Slow" });
        await host.StartAsync(Token);

        using var response = await host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog").GetAsync("/", Token);

        response.EnsureSuccessStatusCode();
        Assert.Equal(1, replica.RequestCount);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task After_DiscoveryTimeout_the_error_names_the_provider_and_its_last_problem()
    {
        SlowProvider.Behaviour = (context, _) =>
        {
            context.ReportFailure(new InvalidOperationException("connection refused by the registry"));
            return Task.CompletedTask;
        };
        using var host = Start(new()
        {
            ["Mesh:DiscoveryTimeout"] = "00:00:00.500",
            ["Mesh:Services:catalog:Discovery"] = "Slow",
        });
        await host.StartAsync(Token);
        var waited = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<MeshNoEndpointsException>(() => host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog").GetAsync("/", Token));

        Assert.True(waited.Elapsed >= TimeSpan.FromMilliseconds(450), $"failed after {waited.Elapsed}, before the timeout");
        Assert.Contains("from Slow did not arrive within 00:00:00.5", error.Message, StringComparison.Ordinal);
        Assert.Contains("Slow: connection refused by the registry", error.Message, StringComparison.Ordinal);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_DiscoveryTimeout_of_zero_never_waits()
    {
        SlowProvider.Behaviour = static (_, _) => Task.CompletedTask;
        using var host = Start(new()
        {
            ["Mesh:Services:catalog:Discovery"] = "Slow",
            ["Mesh:Services:catalog:DiscoveryTimeout"] = "00:00:00",
        });
        await host.StartAsync(Token);

        var error = await Assert.ThrowsAsync<MeshNoEndpointsException>(() => host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog").GetAsync("/", Token));

        Assert.Contains("within 00:00:00", error.Message, StringComparison.Ordinal);
        await host.StopAsync(Token);
    }
}
