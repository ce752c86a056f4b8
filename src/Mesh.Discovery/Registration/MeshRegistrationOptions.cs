using Mesh.Configuration.Internal;

namespace Mesh.Discovery.Registration;

/// <summary>
/// Self-registration of this instance in the etcd registry (<c>Mesh:Registration</c>), used by
/// <c>services.AddMeshRegistration()</c>. The etcd cluster and key prefix come from <c>Mesh:Discovery:Etcd</c>.
/// </summary>
public sealed class MeshRegistrationOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "Mesh:Registration";

    /// <summary>The logical service this instance belongs to (<c>Service</c>), for example <c>payments</c>;
    /// stored lower-case, as the mesh looks services up.</summary>
    /// <value>Required.</value>
    public string? Service { get; set; }

    /// <summary>The address clients reach this instance at (<c>Address</c>), for example
    /// <c>http://10.0.0.5:8080</c>: absolute http(s), no path.</summary>
    /// <value>Required.</value>
    public string? Address { get; set; }

    /// <summary>The relative share of traffic (<c>Weight</c>).</summary>
    /// <value>1. Allowed: 1 to 1,000,000.</value>
    [AllowedRange(1, 1_000_000)]
    public int Weight { get; set; } = 1;

    /// <summary>The zone the instance runs in (<c>Zone</c>).</summary>
    /// <value>None.</value>
    public string? Zone { get; set; }

    /// <summary>Free-form labels (<c>Metadata:{key}</c>), for example <c>version=v2</c>.</summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The TTL of the etcd lease the key lives under (<c>LeaseTtl</c>); a crashed instance disappears
    /// this long after its last keep-alive. Whole seconds (rounded up).</summary>
    /// <value>10 seconds. Allowed: 00:00:02 to 01:00:00.</value>
    [AllowedRange("00:00:02", "01:00:00")]
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a graceful stop waits after leaving the registry before the host goes on stopping
    /// (<c>DeregistrationDelay</c>): the server keeps answering while every watching client sees the instance leave,
    /// so requests already on their way are not sent to a closed listener (what a Kubernetes <c>preStop</c> sleep
    /// does). Cancelled by the host's shutdown timeout.</summary>
    /// <value>1 second. Allowed: 00:00:00 (no wait) to 00:05:00.</value>
    [AllowedRange("00:00:00", "00:05:00")]
    public TimeSpan DeregistrationDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The last segment of the key (<c>InstanceId</c>); no <c>/</c>.</summary>
    /// <value>Generated: <c>{machine}-{process id}-{8 random hex digits}</c>.</value>
    public string? InstanceId { get; set; }

    /// <summary>Problems found while binding configuration (values that do not parse), reported by validation.</summary>
    internal List<string> ConfigurationErrors { get; } = [];

    /// <summary>The path of the section the options were read from (for messages).</summary>
    internal string SectionPath { get; set; } = SectionName;
}
