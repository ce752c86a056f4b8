using Microsoft.AspNetCore.Builder;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Tests.Http;

/// <summary>After a call, the response says which endpoint answered (the request URI is the logical one again).</summary>
public sealed class AnsweringEndpointTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>A started host whose mesh service "catalog" is replicas a and b, round robin.</summary>
    private static async Task<IHost> StartAsync(InProcessReplica a, InProcessReplica b, Action<IServiceCollection> clients)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:catalog:Endpoints:0"] = a.Address.ToString(),
            ["Mesh:Services:catalog:Endpoints:1"] = b.Address.ToString(),
        });
        builder.Services.AddMeshClient();
        clients(builder.Services);
        var host = builder.Build();
        await host.StartAsync(Token);
        return host;
    }

    [Fact]
    public async Task GetMeshEndpoint_names_the_endpoint_that_answered_even_after_a_retry()
    {
        await using var a = await InProcessReplica.StartAsync("a", cancellationToken: Token);
        await using var b = await InProcessReplica.StartAsync("b", cancellationToken: Token);
        using var host = await StartAsync(a, b, services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1)).Services
            .AddHttpClient("catalog").AddMeshHandler());
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        for (var i = 0; i < 4; i++)
        {
            using var response = await client.GetAsync("/items?page=2", Token);
            var replica = response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single();

            Assert.Equal((replica == "a" ? a : b).Port, response.GetMeshEndpoint()!.Address.Port);
            Assert.Equal(new Uri("http://catalog/items?page=2"), response.RequestMessage!.RequestUri);
        }

        await b.StopAsync();
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.GetAsync("/", Token); // half of these try b first, then retry on a
            Assert.Equal(a.Port, response.GetMeshEndpoint()!.Address.Port);
        }

        await host.StopAsync(Token);
    }

    [Fact]
    public async Task A_plain_HttpClient_with_the_mesh_handler_names_the_endpoint_without_request_options()
    {
        // MeshHandlerFactory in a plain HttpClient: nothing else touches the request's options, and the mesh does not
        // create them (240 bytes a request) to record the endpoint: the request's method, put back equal, carries it.
        await using var a = await InProcessReplica.StartAsync("a", cancellationToken: Token);
        await using var b = await InProcessReplica.StartAsync("b", cancellationToken: Token);
        using var host = await StartAsync(a, b, _ => { });
        using var client = new HttpClient(host.Services.GetRequiredService<MeshHandlerFactory>().CreateHandler()) { BaseAddress = new Uri("http://catalog") };

        var seen = new HashSet<int>();
        for (var i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, i % 2 == 0 ? "/items?page=2" : $"/other/{i}");
            using var response = await client.SendAsync(request, Token);
            var replica = response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single();

            Assert.Equal((replica == "a" ? a : b).Port, response.GetMeshEndpoint()!.Address.Port);
            Assert.Equal(new Uri(i % 2 == 0 ? "http://catalog/items?page=2" : $"http://catalog/other/{i}"), request.RequestUri);
            Assert.Empty(request.Options);
            Assert.Equal(HttpMethod.Get, request.Method);
            Assert.Equal("GET", request.Method.Method);
            seen.Add(response.GetMeshEndpoint()!.Address.Port);
        }

        Assert.Equal(2, seen.Count);
        await host.StopAsync(Token);
    }

    [Fact]
    public async Task After_the_call_the_request_has_the_callers_own_uri_object_even_after_a_retry()
    {
        // The endpoint rides on the method, so the mesh gives the caller's Uri back as it was (before, it put an equal
        // Uri of its own there, which carried the endpoint).
        await using var a = await InProcessReplica.StartAsync("a", cancellationToken: Token);
        await using var b = await InProcessReplica.StartAsync("b", cancellationToken: Token);
        b.Behavior.ErrorRate = 1; // every attempt on b fails, and is retried on a
        using var host = await StartAsync(a, b, services => services.AddHttpClient("catalog")
            .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1)).Services
            .AddHttpClient("catalog").AddMeshHandler());
        var resilient = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        using var plain = new HttpClient(host.Services.GetRequiredService<MeshHandlerFactory>().CreateHandler());

        foreach (var client in new[] { resilient, plain })
        {
            for (var i = 0; i < 4; i++)
            {
                var uri = new Uri($"http://catalog/items/{i}?q=x");
                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                using var response = await client.SendAsync(request, Token);

                Assert.Same(uri, request.RequestUri);
                var replica = response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single();
                Assert.Equal((replica == "a" ? a : b).Port, response.GetMeshEndpoint()!.Address.Port);
            }
        }

        await host.StopAsync(Token);
    }

    [Theory]
    [InlineData("HEAD")]
    [InlineData("purge")]
    [InlineData("DELETE")]
    public async Task A_request_resent_after_an_error_goes_out_with_the_callers_method_and_names_the_endpoint_that_answered(string name)
    {
        // The answered request carries its endpoint on its method; a retry must still send the caller's method as written.
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(string Replica, string Method)>();
        InProcessReplicaOptions Recording(string id) => new()
        {
            ConfigureApp = app => app.Use((context, next) =>
            {
                seen.Enqueue((id, context.Request.Method));
                return next(context);
            }),
        };

        await using var a = await InProcessReplica.StartAsync("a", Recording("a"), Token);
        await using var b = await InProcessReplica.StartAsync("b", Recording("b"), Token);
        b.Behavior.ErrorRate = 1;
        using var host = await StartAsync(a, b, services => services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1)).Services
            .AddHttpClient("catalog").AddMeshHandler());
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        for (var i = 0; i < 4; i++)
        {
            var method = new HttpMethod(name);
            using var request = new HttpRequestMessage(method, $"/items/{i}");
            using var response = await client.SendAsync(request, Token);

            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(a.Port, response.GetMeshEndpoint()!.Address.Port);
            Assert.Equal(name, request.Method.Method);
            Assert.Equal(method, request.Method);
            Assert.Same(method, Mesh.Http.Internal.AnsweredMethod.OriginalOf(request.Method)); // the caller's own instance behind it
        }

        // Round robin advances on the retries' picks too: at least every other request went to b first, then was retried on a.
        Assert.InRange(seen.Count(s => s.Replica == "b"), 2, 4);
        Assert.Equal(4, seen.Count(s => s.Replica == "a"));
        Assert.All(seen, s => Assert.Equal(name, s.Method));
        await host.StopAsync(Token);
    }

    [Fact]
    public void A_response_that_did_not_go_through_the_mesh_has_no_mesh_endpoint()
    {
        using var response = new HttpResponseMessage { RequestMessage = new HttpRequestMessage(HttpMethod.Get, "http://example.invalid/") };

        Assert.Null(response.GetMeshEndpoint());
    }
}
