namespace Mesh.Discovery.Dns;

/// <summary>
/// Settings of the DNS discovery provider (<c>Mesh:Discovery:Dns</c>). Services pick it with
/// <c>Mesh:Services:{name}:Discovery = Dns</c> and name their records with <c>Mesh:Services:{name}:Dns:Name</c>
/// (an SRV name, or a host name resolved by A/AAAA when <c>Mesh:Services:{name}:Dns:Port</c> is set).
/// </summary>
public sealed class DnsDiscoveryOptions
{
    /// <summary>The DNS servers to ask (<c>Server</c>): <c>host:port</c>, <c>host</c> (port 53), <c>[::1]:5353</c>;
    /// several comma-separated are tried in order.</summary>
    /// <value>Empty (the default): the system's resolvers (<c>/etc/resolv.conf</c> or the OS settings).</value>
    public string? Server { get; set; }

    /// <summary>The shortest time between two refreshes of a name (<c>MinRefreshInterval</c>): the floor of the
    /// records' TTL.</summary>
    /// <value>1 second. Allowed: 00:00:00.100 to 01:00:00, and at most <see cref="MaxRefreshInterval"/>.</value>
    public TimeSpan MinRefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest time between two refreshes of a name (<c>MaxRefreshInterval</c>): the ceiling of the
    /// records' TTL.</summary>
    /// <value>5 minutes. Allowed: 00:00:00.100 to 1.00:00:00.</value>
    public TimeSpan MaxRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long one DNS query may take (<c>QueryTimeout</c>).</summary>
    /// <value>2 seconds. Allowed: 00:00:00.050 to 00:01:00.</value>
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The first wait after a failed refresh (<c>RetryBaseDelay</c>); it doubles per failure in a row,
    /// with jitter, up to <see cref="RetryMaxDelay"/>.</summary>
    /// <value>1 second. Allowed: 00:00:00.010 to 00:10:00.</value>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between failed refreshes (<c>RetryMaxDelay</c>).</summary>
    /// <value>30 seconds. Allowed: at least <see cref="RetryBaseDelay"/>, up to 01:00:00.</value>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);
}
