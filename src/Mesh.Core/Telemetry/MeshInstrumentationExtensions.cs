using Mesh;
using Mesh.Telemetry.Internal;

namespace OpenTelemetry.Trace;

/// <summary>OpenTelemetry tracing for the mesh.</summary>
public static class MeshTracerProviderBuilderExtensions
{
    /// <summary>Records the mesh's spans and enriches each HttpClient span sent through the mesh with the service,
    /// balancer, endpoint, retry ordinal and probe flag. Add HttpClient instrumentation as well to export those spans.</summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The builder.</returns>
    public static TracerProviderBuilder AddMeshInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        MeshTracing.EnableHttpSpanEnrichment();
        return builder.AddSource(MeshTelemetry.Name);
    }
}
