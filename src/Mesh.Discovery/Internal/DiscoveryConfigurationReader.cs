using Mesh.Configuration.Internal;
using Mesh.Discovery.Dns;
using Mesh.Discovery.Etcd;
using Mesh.Discovery.Registration;
using Microsoft.Extensions.Configuration;

namespace Mesh.Discovery.Internal;

/// <summary>
/// Reads <c>{mesh}:Discovery</c> and <c>{mesh}:Registration</c> in the dialect of every Mesh package
/// (<see cref="ConfigurationReader"/>): lists by the reader (an array, or one value separated by <c>,</c> or <c>;</c>),
/// everything else by the configuration binder source generator after the strict check of each value. Problems are
/// recorded, naming the full key of the section that was bound, and reported by validation on start.
/// </summary>
internal static class DiscoveryConfigurationReader
{
    private static readonly ConfigurationKey[] s_dns =
    [
        ConfigurationKey.TimeSpan(nameof(DnsDiscoveryOptions.MinRefreshInterval)),
        ConfigurationKey.TimeSpan(nameof(DnsDiscoveryOptions.MaxRefreshInterval)),
        ConfigurationKey.TimeSpan(nameof(DnsDiscoveryOptions.QueryTimeout)),
        ConfigurationKey.TimeSpan(nameof(DnsDiscoveryOptions.RetryBaseDelay)),
        ConfigurationKey.TimeSpan(nameof(DnsDiscoveryOptions.RetryMaxDelay)),

        // Server (a list) is read by the reader.
    ];

    private static readonly ConfigurationKey[] s_etcd =
    [
        ConfigurationKey.String(nameof(EtcdDiscoveryOptions.Prefix)),
        ConfigurationKey.TimeSpan(nameof(EtcdDiscoveryOptions.RequestTimeout)),
        ConfigurationKey.TimeSpan(nameof(EtcdDiscoveryOptions.RetryBaseDelay)),
        ConfigurationKey.TimeSpan(nameof(EtcdDiscoveryOptions.RetryMaxDelay)),

        // Endpoints (a list) is read by the reader.
    ];

    private static readonly ConfigurationKey[] s_registration =
    [
        ConfigurationKey.String(nameof(MeshRegistrationOptions.Service)),
        ConfigurationKey.String(nameof(MeshRegistrationOptions.Address)),
        ConfigurationKey.Int32(nameof(MeshRegistrationOptions.Weight)),
        ConfigurationKey.String(nameof(MeshRegistrationOptions.Zone)),
        ConfigurationKey.Map(nameof(MeshRegistrationOptions.Metadata)),
        ConfigurationKey.TimeSpan(nameof(MeshRegistrationOptions.LeaseTtl)),
        ConfigurationKey.TimeSpan(nameof(MeshRegistrationOptions.DeregistrationDelay)),
        ConfigurationKey.String(nameof(MeshRegistrationOptions.InstanceId)),
    ];

    /// <summary>The keys the binder binds, per options type (a test checks that every settable property is listed with its kind).</summary>
    internal static IReadOnlyDictionary<Type, IReadOnlyList<ConfigurationKey>> BoundKeys { get; } = new Dictionary<Type, IReadOnlyList<ConfigurationKey>>
    {
        [typeof(DnsDiscoveryOptions)] = s_dns,
        [typeof(EtcdDiscoveryOptions)] = s_etcd,
        [typeof(MeshRegistrationOptions)] = s_registration,
    };

    public static void Read(IConfigurationSection discovery, MeshDiscoveryOptions options, IConfigurationRoot? root)
    {
        var reader = new ConfigurationReader(options.ConfigurationErrors, root);
        options.SectionPath = discovery.Path;
        var dns = discovery.GetSection("Dns");
        options.Dns.Server = reader.JoinedList(dns, nameof(DnsDiscoveryOptions.Server)) ?? options.Dns.Server;
        reader.Bind(dns, options.Dns, s_dns, static (checkedValues, dnsOptions) => checkedValues.Bind(dnsOptions));

        var etcd = discovery.GetSection("Etcd");
        options.Etcd.Endpoints = reader.JoinedList(etcd, nameof(EtcdDiscoveryOptions.Endpoints)) ?? options.Etcd.Endpoints;
        reader.Bind(etcd, options.Etcd, s_etcd, static (checkedValues, etcdOptions) => checkedValues.Bind(etcdOptions));
    }

    public static void Read(IConfigurationSection registration, MeshRegistrationOptions options, IConfigurationRoot? root)
    {
        options.SectionPath = registration.Path;
        new ConfigurationReader(options.ConfigurationErrors, root)
            .Bind(registration, options, s_registration, static (checkedValues, registrationOptions) => checkedValues.Bind(registrationOptions));
    }

    /// <summary>Whether a service section names <paramref name="provider"/> among its discovery sources
    /// (<c>Discovery</c>: names separated by <c>,</c> or <c>;</c>, or an array; default Configuration).</summary>
    public static bool UsesProvider(IConfigurationSection service, string provider) =>
        (new ConfigurationReader([]).JoinedList(service, "Discovery") ?? "")
            .Split(ConfigurationReader.ListSeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Contains(provider, StringComparer.OrdinalIgnoreCase);
}
