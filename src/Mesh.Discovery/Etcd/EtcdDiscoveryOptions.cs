namespace Mesh.Discovery.Etcd;

/// <summary>
/// Settings of the etcd discovery provider and of self-registration (<c>Mesh:Discovery:Etcd</c>). An instance of
/// service <c>s</c> is the key <c>{Prefix}{s}/{instance-id}</c> holding
/// <c>{"Address": "http://10.0.0.5:8080", "Weight": 1, "Zone": "eu-1a", "Metadata": {"version": "v1"}}</c>.
/// </summary>
public sealed class EtcdDiscoveryOptions
{
    /// <summary>The default <see cref="Prefix"/>.</summary>
    public const string DefaultPrefix = "/mesh/services/";

    /// <summary>The etcd client URLs (<c>Endpoints</c>), comma-separated for a cluster, for example
    /// <c>http://127.0.0.1:2379</c>. When one fails the next is used.</summary>
    /// <value>Empty; required when a service uses <c>Etcd</c> discovery or registration is on.</value>
    public string? Endpoints { get; set; }

    /// <summary>The key prefix of the registry (<c>Prefix</c>); must end with <c>/</c>.</summary>
    /// <value><c>/mesh/services/</c>.</value>
    public string Prefix { get; set; } = DefaultPrefix;

    /// <summary>How long one etcd request (list, put, lease grant, delete) may take (<c>RequestTimeout</c>).</summary>
    /// <value>5 seconds. Allowed: 00:00:00.100 to 00:01:00.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The first wait after etcd failed (<c>RetryBaseDelay</c>); it doubles per failure in a row, with
    /// jitter, up to <see cref="RetryMaxDelay"/>.</summary>
    /// <value>250 milliseconds. Allowed: 00:00:00.010 to 00:10:00.</value>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest wait between attempts while etcd is failing (<c>RetryMaxDelay</c>).</summary>
    /// <value>10 seconds. Allowed: at least <see cref="RetryBaseDelay"/>, up to 01:00:00.</value>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);
}
