using Mesh.Tests.TestSupport;

namespace Mesh.Containers.Tests;

/// <summary>Mesh.Containers' public API exposes the BCL, Microsoft.Extensions.* and Mesh.Core only: Docker.DotNet is how
/// it talks to the engine, not something its users see (the public types wrap what they need of it).</summary>
public sealed class PublicApiTests
{
    [Fact]
    public void The_public_api_exposes_no_third_party_type()
    {
        PublicApiSurface.AssertExposesOnly(typeof(DockerEngine).Assembly, a => a is "Mesh.Containers" or "Mesh.Core");
    }
}
