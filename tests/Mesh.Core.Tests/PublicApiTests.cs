using Mesh.Tests.TestSupport;

namespace Mesh.Tests;

/// <summary>Mesh.Core's public API exposes the BCL and Microsoft.Extensions.* only, so that its users depend on nothing else.</summary>
public sealed class PublicApiTests
{
    [Fact]
    public void The_public_api_exposes_no_third_party_type_but_the_OpenTelemetry_builders_it_extends()
    {
        // AddMeshInstrumentation() extends OpenTelemetry's MeterProviderBuilder and TracerProviderBuilder: the way every
        // OpenTelemetry instrumentation plugs in (a one-line setup), so those two builders are the one exception.
        PublicApiSurface.AssertExposesOnly(typeof(MeshMonitor).Assembly, a => a is "Mesh.Core" or "OpenTelemetry.Api");
    }

    [Fact]
    public void Only_the_telemetry_extensions_expose_OpenTelemetry()
    {
        var places = PublicApiSurface.ExposedAssemblies(typeof(MeshMonitor).Assembly).GetValueOrDefault("OpenTelemetry.Api") ?? [];

        Assert.All(places, p => Assert.Matches(@"^OpenTelemetry\.(Metrics\.MeshMeterProviderBuilderExtensions|Trace\.MeshTracerProviderBuilderExtensions)\.AddMeshInstrumentation$", p));
    }
}
