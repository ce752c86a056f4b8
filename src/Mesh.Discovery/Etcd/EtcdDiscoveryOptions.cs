using Mesh.Configuration.Internal;

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

    private static readonly TimeSpan s_retryBaseDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_retryMaxDelay = TimeSpan.FromSeconds(10);
    private TimeSpan? _retryBaseDelay;
    private TimeSpan? _retryMaxDelay;

    /// <summary>The etcd client URLs (<c>Endpoints</c>), separated by <c>,</c> or <c>;</c> (or an array) for a cluster,
    /// for example <c>http://127.0.0.1:2379</c>. When one fails the next is used.</summary>
    /// <value>Empty; required when a service uses <c>Etcd</c> discovery or registration is on.</value>
    public string? Endpoints { get; set; }

    /// <summary>The key prefix of the registry (<c>Prefix</c>); must end with <c>/</c>.</summary>
    /// <value><c>/mesh/services/</c>.</value>
    public string Prefix { get; set; } = DefaultPrefix;

    /// <summary>How long one etcd request (list, put, lease grant, delete) may take (<c>RequestTimeout</c>).</summary>
    /// <value>5 seconds. Allowed: 00:00:00.100 to 00:01:00.</value>
    [AllowedRange("00:00:00.100", "00:01:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The first wait after etcd failed (<c>RetryBaseDelay</c>); it doubles per failure in a row, with
    /// jitter, up to <see cref="RetryMaxDelay"/>.</summary>
    /// <value>250 milliseconds, or <see cref="RetryMaxDelay"/> when that is set shorter. Allowed: 00:00:00.010 to 00:10:00.</value>
    [AllowedRange("00:00:00.010", "00:10:00")]
    public TimeSpan RetryBaseDelay
    {
        get => _retryBaseDelay ?? (_retryMaxDelay is { } max && max < s_retryBaseDelay ? max : s_retryBaseDelay);
        set => _retryBaseDelay = value;
    }

    /// <summary>The longest wait between attempts while etcd is failing (<c>RetryMaxDelay</c>).</summary>
    /// <value>10 seconds, or <see cref="RetryBaseDelay"/> when that is set longer. Allowed: at least
    /// <see cref="RetryBaseDelay"/>, up to 01:00:00.</value>
    [AllowedRange("00:00:00.010", "01:00:00")]
    public TimeSpan RetryMaxDelay
    {
        get => _retryMaxDelay ?? (_retryBaseDelay is { } baseDelay && baseDelay > s_retryMaxDelay ? baseDelay : s_retryMaxDelay);
        set => _retryMaxDelay = value;
    }
}
