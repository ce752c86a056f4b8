using Mesh;
using Mesh.Telemetry.Internal;

namespace OpenTelemetry.Trace;

/// <summary>OpenTelemetry tracing for the mesh.</summary>
public static class MeshTracerProviderBuilderExtensions
{
    /// <summary>Enriches each HttpClient span sent through the mesh with the service, balancer, retry ordinal and probe
    /// flag (the endpoint is in the span's <c>server.address</c>/<c>server.port</c>), and subscribes to the <c>Mesh</c>
    /// source. The mesh starts no spans of its own: add <c>AddSource("System.Net.Http")</c> (or HttpClient
    /// instrumentation) to record the enriched spans.</summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The builder.</returns>
    public static TracerProviderBuilder AddMeshInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        MeshTracing.EnableHttpSpanEnrichment();
        return builder.AddSource(MeshTelemetry.Name);
    }
}
