using System.Diagnostics;
using Mesh.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Http.Resilience;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Mesh.Tests.Telemetry;

/// <summary>Spans, metrics and log events for a scenario with an ejection and retries.</summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class TelemetryTests
{
    [Fact]
    public async Task An_ejection_and_its_retries_show_in_spans_metrics_and_logs()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddMeshInstrumentation()
            .AddSource("System.Net.Http")
            .AddInMemoryExporter(spans)
            .Build();
        await using var host = await MeshTestHost.StartAsync(3,
            settings: new() { ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin" },
            configureServices: s => s.AddMetrics(),
            configureClient: c => c.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(1)));
        var meters = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var requests = new MetricCollector<long>(meters, MeshTelemetry.Name, "mesh.client.requests");
        using var duration = new MetricCollector<double>(meters, MeshTelemetry.Name, "mesh.client.request.duration");
        using var ejections = new MetricCollector<long>(meters, MeshTelemetry.Name, "mesh.endpoint.ejections");
        using var endpoints = new MetricCollector<long>(meters, MeshTelemetry.Name, "mesh.endpoints");
        var dead = host.Replicas[1];
        await dead.StopAsync();

        var (_, failures) = await host.SendAsync(60);
        tracing.ForceFlush();
        endpoints.RecordObservableInstruments();

        Assert.Empty(failures);
        // Metrics: five refused attempts, then the ejection; every attempt has a duration.
        var byOutcome = requests.GetMeasurementSnapshot().GroupBy(m => (string)m.Tags[MeshTelemetry.Attributes.Outcome]!).ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.Equal(5, byOutcome["connection_failure"]);
        Assert.Equal(60, byOutcome["success"]);
        Assert.Equal(65, duration.GetMeasurementSnapshot().Count);
        var ejection = Assert.Single(ejections.GetMeasurementSnapshot());
        Assert.Equal(("catalog", "consecutive_failures"), ((string)ejection.Tags[MeshTelemetry.Attributes.Service]!, (string)ejection.Tags[MeshTelemetry.Attributes.ErrorType]!));
        Assert.Equal(1, endpoints.GetMeasurementSnapshot().Single(m => (string)m.Tags[MeshTelemetry.Attributes.EndpointState]! == "ejected").Value);
        Assert.Equal(2, endpoints.GetMeasurementSnapshot().Single(m => (string)m.Tags[MeshTelemetry.Attributes.EndpointState]! == "healthy").Value);

        // Spans: the HttpClient span of each attempt carries the mesh's decision; retries are marked.
        var meshSpans = spans.Where(s => s.GetTagItem(MeshTelemetry.Attributes.Service) as string == "catalog" && host.Replicas.Any(r => r.Port.Equals(s.GetTagItem("server.port")))).ToList();
        var untagged = spans.Where(s => host.Replicas.Any(r => r.Port.Equals(s.GetTagItem("server.port"))) && s.GetTagItem(MeshTelemetry.Attributes.Service) is null)
            .Select(s => $"{s.DisplayName} {s.GetTagItem("url.full")} {s.Status} {s.StartTimeUtc:HH:mm:ss.fff}");
        Assert.True(meshSpans.Count == 65, $"{meshSpans.Count} spans tagged; untagged: {string.Join("; ", untagged)}");
        Assert.All(meshSpans, s => Assert.Equal("RoundRobin", s.GetTagItem(MeshTelemetry.Attributes.LoadBalancer)));
        Assert.All(meshSpans, s => Assert.Equal("127.0.0.1", s.GetTagItem("server.address")));
        var failed = meshSpans.Where(s => dead.Port.Equals(s.GetTagItem("server.port"))).ToList();
        Assert.Equal(5, failed.Count);
        Assert.All(failed, s => Assert.Equal(ActivityStatusCode.Error, s.Status));
        var retries = meshSpans.Where(s => s.GetTagItem(MeshTelemetry.Attributes.ResendCount) is int).ToList();
        Assert.Equal(5, retries.Count);
        Assert.All(retries, s => Assert.Equal(1, s.GetTagItem(MeshTelemetry.Attributes.ResendCount)));
        Assert.DoesNotContain(retries, s => dead.Port.Equals(s.GetTagItem("server.port")));

        // Logs: one line for the ejection, with a stable event id and name.
        var log = Assert.Single(host.Logs.GetSnapshot(), r => r.Id.Name == "EndpointEjected");
        Assert.Equal(1001, log.Id.Id);
        Assert.Contains($"ejected endpoint http://127.0.0.1:{dead.Port}", log.Message, StringComparison.Ordinal);
    }
}
