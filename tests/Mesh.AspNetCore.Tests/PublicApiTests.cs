using Mesh.Tests.TestSupport;

namespace Mesh.AspNetCore.Tests;

/// <summary>The package split and what the public API exposes: apps that only make calls take Mesh.Core without
/// ASP.NET Core; the server side keeps its namespace in Mesh.AspNetCore and exposes ASP.NET Core types only.</summary>
public sealed class PublicApiTests
{
    [Fact]
    public void Mesh_Core_references_no_ASP_NET_Core_assembly()
    {
        var references = typeof(MeshMonitor).Assembly.GetReferencedAssemblies();

        Assert.DoesNotContain(references, r => r.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }

    [Fact]
    public void The_server_side_keeps_the_Mesh_Identity_namespace_in_its_own_assembly()
    {
        // Source compatibility: `using Mesh.Identity;` plus a reference to Mesh.AspNetCore is all that user code needs.
        Type[] server = [typeof(Mesh.Identity.MeshKestrelExtensions), typeof(Mesh.Identity.MeshHttpContextExtensions),
            typeof(Mesh.Identity.MeshServerIdentityOptions), typeof(Mesh.Identity.IMeshPeerIdentityFeature)];

        Assert.All(server, t => Assert.Equal(("Mesh.Identity", "Mesh.AspNetCore"), (t.Namespace, t.Assembly.GetName().Name)));
    }

    [Fact]
    public void The_public_api_exposes_ASP_NET_Core_and_Mesh_Core_types_only()
    {
        PublicApiSurface.AssertExposesOnly(typeof(Mesh.Identity.MeshKestrelExtensions).Assembly,
            a => a is "Mesh.AspNetCore" or "Mesh.Core" || a == "Microsoft.AspNetCore" || a.StartsWith("Microsoft.AspNetCore.", StringComparison.Ordinal));
    }
}
