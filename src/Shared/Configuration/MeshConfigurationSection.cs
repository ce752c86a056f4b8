using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Configuration.Internal;

/// <summary>
/// Where the mesh's configuration section is, shared by the packages (this file is compiled into each library; it is not
/// public API). <c>AddMeshClient()</c> binds <c>Mesh</c>, <c>AddMeshClient(section)</c> any section shaped like it; both
/// register that section as a keyed <see cref="IConfiguration"/> under <see cref="ServiceKey"/>, so that Mesh.Discovery
/// reads <c>{section}:Discovery</c>, <c>{section}:Registration</c> and <c>{section}:Services:{name}:Dns</c> from the same
/// place and names the same keys in its messages.
/// </summary>
internal static class MeshConfigurationSection
{
    /// <summary>The service key of the mesh's configuration section.</summary>
    public const string ServiceKey = "Mesh.Configuration.Section";

    /// <summary>The section <c>AddMeshClient()</c> binds.</summary>
    public const string DefaultPath = "Mesh";

    /// <summary>The section the mesh was bound to, else the app's <c>Mesh</c> section; <see langword="null"/> without configuration.</summary>
    public static IConfiguration? Find(IServiceProvider services) =>
        services.GetKeyedService<IConfiguration>(ServiceKey) ?? services.GetService<IConfiguration>()?.GetSection(DefaultPath);

    /// <summary>
    /// The configuration root <paramref name="section"/> belongs to, when it can be known: the root itself, or the app's
    /// configuration when that holds exactly the same keys and values at the section's path. The root tells which
    /// provider wrote a value (a plain value at a list key replaces only the items of earlier providers).
    /// </summary>
    public static IConfigurationRoot? RootOf(IConfiguration section, IConfiguration? app)
    {
        if (section is IConfigurationRoot root)
        {
            return root;
        }

        if (app is not IConfigurationRoot appRoot || section is not IConfigurationSection { Path.Length: > 0 } s)
        {
            return null;
        }

        return appRoot.GetSection(s.Path).AsEnumerable().SequenceEqual(s.AsEnumerable()) ? appRoot : null;
    }
}
