namespace Mesh.AspNetCore.Tests;

/// <summary>The client/server split: apps that only make calls take Mesh.Core without ASP.NET Core.</summary>
public sealed class PackageSplitTests
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
}
