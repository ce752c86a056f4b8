using Mesh;

namespace OpenTelemetry.Metrics;

/// <summary>OpenTelemetry metrics for the mesh.</summary>
public static class MeshMeterProviderBuilderExtensions
{
    /// <summary>Exports the mesh's metrics (meter <c>Mesh</c>): requests and their duration, in-flight requests,
    /// endpoints per health state, panic mode, ejections and returns, discovery updates and failures, TLS handshake
    /// failures, certificate time-to-expiry and retry-budget exhaustion.</summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The builder.</returns>
    public static MeterProviderBuilder AddMeshInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(MeshTelemetry.Name);
    }
}
