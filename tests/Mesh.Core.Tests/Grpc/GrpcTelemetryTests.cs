using System.Diagnostics;
using System.Net;
using StatusCode = Grpc.Core.StatusCode;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Mesh.Tests.GrpcTests;

/// <summary>
/// Issue 17, item 4: the gRPC status is on the mesh's request metrics and on the gRPC client span of each attempt as
/// <c>rpc.grpc.status_code</c> (OpenTelemetry RPC conventions), next to the mesh's own outcome.
/// </summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class GrpcTelemetryTests
{
    private const string StatusCodeAttribute = "rpc.grpc.status_code";

    [Fact]
    public async Task The_request_metrics_carry_the_gRPC_status_and_the_outcome_it_means()
    {
        await using var app = await GrpcApp.StartAsync(1, configureServices: s => s.AddHttpClient("catalog-http", c =>
        {
            c.BaseAddress = new Uri("http://catalog");
            c.DefaultRequestVersion = HttpVersion.Version20;
            c.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }).AddMeshHandler());
        var meters = app.Host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var requests = new MetricCollector<long>(meters, MeshTelemetry.Name, "mesh.client.requests");
        using var duration = new MetricCollector<double>(meters, MeshTelemetry.Name, "mesh.client.request.duration");

        await app.UnaryAsync(1);                                                                     // OK
        await app.UnaryAsync(1, new ReplicaRequest { Status = (int)StatusCode.NotFound });           // the application's answer
        await app.UnaryAsync(1, new ReplicaRequest { Status = (int)StatusCode.Unavailable });        // trailers-only failure
        await app.StreamAsync(1, new ReplicaRequest { Messages = 2, Status = (int)StatusCode.Unavailable, StatusAfterMessages = true });
        await app.StreamAsync(1, new ReplicaRequest { Messages = 3, IntervalMs = 300 });              // ~0.6 s, OK
        using (var left = app.Client.ServerStream(new ReplicaRequest { Messages = 1, HoldOpen = true }, cancellationToken: GrpcApp.Token))
        {
            Assert.True(await left.ResponseStream.MoveNext(GrpcApp.Token));
        }

        using (var http = await app.Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog-http").GetAsync("/", GrpcApp.Token))
        {
            Assert.Equal(HttpStatusCode.OK, http.StatusCode);
        }

        var seen = requests.GetMeasurementSnapshot()
            .Select(m => ((string)m.Tags[MeshTelemetry.Attributes.Outcome]!, m.Tags.TryGetValue(StatusCodeAttribute, out var code) ? (int?)code : null))
            .ToList();
        Assert.Equal(
        [
            ("success", 0), ("success", 5), ("server_error", 14), ("server_error", 14), ("success", 0), ("cancelled", null), ("success", null),
        ], seen);

        // The duration is the time to response headers, also for the 0.6 s stream.
        var durations = duration.GetMeasurementSnapshot();
        Assert.Equal(7, durations.Count);
        Assert.All(durations, d => Assert.True(d.Value < 0.25, $"{d.Value} s"));
    }

    [Fact]
    public async Task The_gRPC_client_span_of_each_attempt_carries_the_status_and_the_mesh_outcome()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddMeshInstrumentation()
            .AddSource("Grpc.Net.Client", "System.Net.Http")
            .AddInMemoryExporter(spans)
            .Build();
        await using var app = await GrpcApp.StartAsync(1);

        await app.UnaryAsync(1, new ReplicaRequest { Status = (int)StatusCode.Unavailable });
        await app.StreamAsync(1, new ReplicaRequest { Messages = 2, Status = (int)StatusCode.Internal, StatusAfterMessages = true });
        await app.UnaryAsync(1);
        tracing.ForceFlush();

        var port = app.Replicas[0].Port;
        var grpcSpans = spans.Where(s => s.Source.Name == "Grpc.Net.Client" && s.GetTagItem(MeshTelemetry.Attributes.Service) as string == "catalog").ToList();
        Assert.Equal(
        [
            ("server_error", 14), ("server_error", 13), ("success", 0),
        ], grpcSpans.Select(s => ((string)s.GetTagItem(MeshTelemetry.Attributes.Outcome)!, (int)s.GetTagItem(StatusCodeAttribute)!)));
        Assert.All(grpcSpans, s => Assert.Equal("PeakEwma", s.GetTagItem(MeshTelemetry.Attributes.LoadBalancer)));

        // Below each one, the HttpClient span of the attempt names the endpoint, as for any request through the mesh.
        var httpSpans = spans.Where(s => s.Source.Name == "System.Net.Http" && port.Equals(s.GetTagItem("server.port"))).ToList();
        Assert.Equal(3, httpSpans.Count);
        Assert.All(httpSpans, s => Assert.Equal("catalog", s.GetTagItem(MeshTelemetry.Attributes.Service)));
        Assert.All(httpSpans, s => Assert.Contains(grpcSpans, g => g.SpanId == s.ParentSpanId));
    }
}
