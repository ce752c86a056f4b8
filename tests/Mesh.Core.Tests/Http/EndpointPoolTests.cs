using Mesh.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Mesh.Endpoints;
using Mesh.Endpoints.Internal;
using Mesh.Http.Internal;
using Mesh.Testing;
using Mesh.Tests.TestSupport;
using OpenTelemetry.Trace;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Mesh.Tests.Http;

/// <summary>Plain-http requests keep their logical URI on the way to the endpoint, over a connection pool of the
/// endpoint's own (see <see cref="EndpointPool"/>).</summary>
public sealed class EndpointPoolTests
{
    [Fact]
    public async Task A_plain_http_request_reaches_the_picked_endpoint_with_the_logical_host_and_is_not_rewritten()
    {
        var seen = new List<(string Host, int LocalPort)>();
        var options = new InProcessReplicaOptions
        {
            ConfigureApp = app => app.Use((context, next) =>
            {
                lock (seen)
                {
                    seen.Add((context.Request.Host.Value ?? "", context.Connection.LocalPort));
                }

                return next(context);
            }),
        };
        await using var host = await MeshTestHost.StartAsync(3, settings: new() { ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin" }, replicaOptions: options);

        var requests = new List<HttpRequestMessage>();
        for (var i = 0; i < 30; i++)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"/items/{i}?page=2");
            using var response = await host.Client.SendAsync(request, TestContext.Current.CancellationToken);
            response.EnsureSuccessStatusCode();
            Assert.Equal($"http://catalog/items/{i}?page=2", request.RequestUri!.ToString());
            Assert.Contains(response.GetMeshEndpoint()!.Address.Port, host.Replicas.Select(r => r.Port));
            requests.Add(request);
        }

        // Every replica got its share, each request arrived on the replica's own port, and it said Host: catalog.
        Assert.Equal(30, seen.Count);
        Assert.All(seen, s => Assert.Equal("catalog", s.Host));
        Assert.Equal(host.Replicas.Select(r => r.Port).Order(), seen.Select(s => s.LocalPort).Distinct().Order());
        Assert.All(seen.GroupBy(s => s.LocalPort), g => Assert.Equal(10, g.Count()));

        // The URI was never rewritten: the rewrite path would have set the Host header on the message.
        Assert.All(requests, r => Assert.Null(r.Headers.Host));
        requests.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task With_tracing_the_HttpClient_span_still_names_the_endpoint_while_the_endpoint_sees_the_logical_host()
    {
        var spans = new List<System.Diagnostics.Activity>();
        using var tracing = OpenTelemetry.Sdk.CreateTracerProviderBuilder()
            .AddMeshInstrumentation()
            .AddSource("System.Net.Http")
            .AddInMemoryExporter(spans)
            .Build();
        var hosts = new List<string>();
        var options = new InProcessReplicaOptions
        {
            ConfigureApp = app => app.Use((context, next) =>
            {
                lock (hosts)
                {
                    hosts.Add(context.Request.Host.Value ?? "");
                }

                return next(context);
            }),
        };
        await using var host = await MeshTestHost.StartAsync(2, settings: new() { ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin" }, replicaOptions: options);

        for (var i = 0; i < 4; i++)
        {
            using var response = await host.Client.GetAsync($"/items/{i}", TestContext.Current.CancellationToken);
            response.EnsureSuccessStatusCode();
            Assert.Null(response.RequestMessage!.Headers.Host); // sent with its logical URI, not rewritten
        }

        tracing.ForceFlush();
        Assert.Equal(["catalog", "catalog", "catalog", "catalog"], hosts);
        // Spans of this host's replicas only: the provider also records other tests' requests running meanwhile.
        var meshSpans = spans.Where(s => s.GetTagItem(MeshTelemetry.Attributes.Service) as string == "catalog" && host.Replicas.Any(r => r.Port.Equals(s.GetTagItem("server.port"))))
            .OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(4, meshSpans.Count);
        Assert.All(meshSpans, s => Assert.Equal("127.0.0.1", s.GetTagItem("server.address")));
        Assert.Equal(host.Replicas.Select(r => r.Port).Order(), meshSpans.Select(s => (int)s.GetTagItem("server.port")!).Distinct().Order());
        Assert.All(meshSpans, (s, i) => Assert.Equal($"http://127.0.0.1:{s.GetTagItem("server.port")}/items/{i}", s.GetTagItem("url.full")));
    }

    [Theory]
    [InlineData("http://catalog/items?*", "http://127.0.0.1:5001", "http://127.0.0.1:5001/items?*")]
    [InlineData("http://catalog:8080/", "http://127.0.0.1:5001", "http://127.0.0.1:5001/")]
    [InlineData("http://catalog", "http://[::1]:5001", "http://[::1]:5001")]
    [InlineData("not a url", "http://127.0.0.1:5001", null)]
    public void A_spans_url_is_moved_to_the_endpoint_keeping_path_and_redacted_query(string url, string prefix, string? expected) =>
        Assert.Equal(expected, Mesh.Telemetry.Internal.MeshTracing.EndpointUrl(url, prefix));

    [Fact]
    public void The_pool_of_an_endpoint_that_left_its_service_is_disposed_once_idle_and_a_live_one_is_kept()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var transport = new MeshTransport(new MeshOptions(), timeProvider: time);
        var leaving = new EndpointState(new MeshEndpoint("http://127.0.0.1:5001"));
        var staying = new EndpointState(new MeshEndpoint("http://127.0.0.1:5002"));
        var sameAddress = new EndpointState(new MeshEndpoint("http://127.0.0.1:5001")); // another service's endpoint

        var pool = transport.PoolOf(leaving);
        Assert.Same(pool, transport.PoolOf(leaving));
        Assert.Same(pool, transport.PoolOf(sameAddress));
        var kept = transport.PoolOf(staying);
        Assert.NotSame(pool, kept);
        Assert.Equal(2, transport.EndpointPoolCount);

        // Idle, but its endpoints are still in their sets: kept.
        time.Advance(MeshTransport.RetiredPoolLifetime * 3);
        Assert.Equal(2, transport.EndpointPoolCount);

        // One of the two endpoints at 5001 left: the other still uses the pool.
        leaving.Removed = true;
        time.Advance(MeshTransport.RetiredPoolLifetime);
        Assert.Equal(2, transport.EndpointPoolCount);

        // Both left; a request a moment ago keeps it for another idle period, then it goes.
        sameAddress.Removed = true;
        transport.PoolOf(sameAddress);
        time.Advance(MeshTransport.RetiredPoolLifetime / 2);
        transport.Sweep();
        Assert.Equal(2, transport.EndpointPoolCount);
        time.Advance(MeshTransport.RetiredPoolLifetime);
        Assert.Equal(1, transport.EndpointPoolCount);
        Assert.True(pool.Retired);
        Assert.False(kept.Retired);

        // An endpoint that comes back at that address gets a new pool.
        var back = new EndpointState(new MeshEndpoint("http://127.0.0.1:5001"));
        var fresh = transport.PoolOf(back);
        Assert.NotSame(pool, fresh);
        Assert.False(fresh.Retired);
    }

    [Fact]
    public void Only_the_mesh_transport_behind_IHttpClientFactorys_logging_counts_as_reaching_it_directly()
    {
        using var transport = new MeshTransport(new MeshOptions());
        using var primary = new MeshTransportHandler(transport);
        Assert.True(MeshHttpHandler.ReachesTransportDirectly(primary));

        using var logging = new Microsoft.Extensions.Http.Logging.LoggingHttpMessageHandler(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance) { InnerHandler = new MeshTransportHandler(transport) };
        Assert.True(MeshHttpHandler.ReachesTransportDirectly(logging));

        using var custom = new AppHandler { InnerHandler = new MeshTransportHandler(transport) };
        Assert.False(MeshHttpHandler.ReachesTransportDirectly(custom));
        using var sockets = new SocketsHttpHandler();
        Assert.False(MeshHttpHandler.ReachesTransportDirectly(sockets));
        Assert.False(MeshHttpHandler.ReachesTransportDirectly(null));
    }

    /// <summary>A handler of the application's own (it could read or change the request URI).</summary>
    private sealed class AppHandler : DelegatingHandler;
}
