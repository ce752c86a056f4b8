using Mesh.Discovery.Dns;
using Mesh.Discovery.Etcd;

namespace Mesh.Discovery;

/// <summary>
/// Settings of the discovery providers that <c>services.AddMeshDiscovery()</c> registers, bound from
/// <c>Mesh:Discovery</c> (or <c>{section}:Discovery</c> of the section given to <c>AddMeshClient(section)</c>). Read once,
/// when the mesh starts; validated on start with messages that name the key.
/// Per-service settings (<c>Mesh:Services:{name}:Dns:Name</c>, ...) are read when the service's watch starts.
/// </summary>
public sealed class MeshDiscoveryOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "Mesh:Discovery";

    /// <summary>The DNS provider's settings (<c>Mesh:Discovery:Dns</c>).</summary>
    public DnsDiscoveryOptions Dns { get; } = new();

    /// <summary>The etcd provider's and the registration's settings (<c>Mesh:Discovery:Etcd</c>).</summary>
    public EtcdDiscoveryOptions Etcd { get; } = new();

    /// <summary>Problems found while binding configuration (values that do not parse), reported by validation.</summary>
    internal List<string> ConfigurationErrors { get; } = [];

    /// <summary>The path of the section the options were read from (for messages): <c>{mesh section}:Discovery</c>.</summary>
    internal string SectionPath { get; set; } = SectionName;
}
