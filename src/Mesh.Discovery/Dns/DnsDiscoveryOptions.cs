using Mesh.Configuration.Internal;

namespace Mesh.Discovery.Dns;

/// <summary>
/// Settings of the DNS discovery provider (<c>Mesh:Discovery:Dns</c>). Services pick it with
/// <c>Mesh:Services:{name}:Discovery = Dns</c> and name their records with <c>Mesh:Services:{name}:Dns:Name</c>
/// (an SRV name, or a host name resolved by A/AAAA when <c>Mesh:Services:{name}:Dns:Port</c> is set).
/// </summary>
public sealed class DnsDiscoveryOptions
{
    private static readonly TimeSpan s_minRefreshInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_maxRefreshInterval = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan s_retryBaseDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_retryMaxDelay = TimeSpan.FromSeconds(30);
    private TimeSpan? _minRefreshInterval;
    private TimeSpan? _maxRefreshInterval;
    private TimeSpan? _retryBaseDelay;
    private TimeSpan? _retryMaxDelay;

    /// <summary>The DNS servers to ask (<c>Server</c>): <c>host:port</c>, <c>host</c> (port 53), <c>[::1]:5353</c>;
    /// several, separated by <c>,</c> or <c>;</c> (or an array), are tried in order.</summary>
    /// <value>Empty (the default): the system's resolvers (<c>/etc/resolv.conf</c> or the OS settings).</value>
    public string? Server { get; set; }

    /// <summary>The shortest time between two refreshes of a name (<c>MinRefreshInterval</c>): the floor of the
    /// records' TTL.</summary>
    /// <value>1 second, or <see cref="MaxRefreshInterval"/> when that is set shorter. Allowed: 00:00:00.100 to 01:00:00,
    /// and at most <see cref="MaxRefreshInterval"/>.</value>
    [AllowedRange("00:00:00.100", "01:00:00")]
    public TimeSpan MinRefreshInterval
    {
        get => _minRefreshInterval ?? Min(s_minRefreshInterval, _maxRefreshInterval);
        set => _minRefreshInterval = value;
    }

    /// <summary>The longest time between two refreshes of a name (<c>MaxRefreshInterval</c>): the ceiling of the
    /// records' TTL.</summary>
    /// <value>5 minutes, or <see cref="MinRefreshInterval"/> when that is set longer. Allowed: 00:00:00.100 to 1.00:00:00.</value>
    [AllowedRange("00:00:00.100", "1.00:00:00")]
    public TimeSpan MaxRefreshInterval
    {
        get => _maxRefreshInterval ?? Max(s_maxRefreshInterval, _minRefreshInterval);
        set => _maxRefreshInterval = value;
    }

    /// <summary>How long one DNS query may take (<c>QueryTimeout</c>).</summary>
    /// <value>2 seconds. Allowed: 00:00:00.050 to 00:01:00.</value>
    [AllowedRange("00:00:00.050", "00:01:00")]
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The first wait after a failed refresh (<c>RetryBaseDelay</c>); it doubles per failure in a row,
    /// with jitter, up to <see cref="RetryMaxDelay"/>.</summary>
    /// <value>1 second, or <see cref="RetryMaxDelay"/> when that is set shorter. Allowed: 00:00:00.010 to 00:10:00.</value>
    [AllowedRange("00:00:00.010", "00:10:00")]
    public TimeSpan RetryBaseDelay
    {
        get => _retryBaseDelay ?? Min(s_retryBaseDelay, _retryMaxDelay);
        set => _retryBaseDelay = value;
    }

    /// <summary>The longest wait between failed refreshes (<c>RetryMaxDelay</c>).</summary>
    /// <value>30 seconds, or <see cref="RetryBaseDelay"/> when that is set longer. Allowed: at least
    /// <see cref="RetryBaseDelay"/>, up to 01:00:00.</value>
    [AllowedRange("00:00:00.010", "01:00:00")]
    public TimeSpan RetryMaxDelay
    {
        get => _retryMaxDelay ?? Max(s_retryMaxDelay, _retryBaseDelay);
        set => _retryMaxDelay = value;
    }

    private static TimeSpan Min(TimeSpan fallback, TimeSpan? other) => other is { } o && o < fallback ? o : fallback;

    private static TimeSpan Max(TimeSpan fallback, TimeSpan? other) => other is { } o && o > fallback ? o : fallback;
}
