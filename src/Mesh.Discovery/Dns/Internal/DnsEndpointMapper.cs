using System.Net;
using System.Net.Sockets;
using DnsClient.Protocol;

namespace Mesh.Discovery.Dns.Internal;

/// <summary>The addresses a host name resolved to, or why it did not (then it is skipped, not a failure).</summary>
internal readonly record struct TargetAddresses(IReadOnlyList<IPAddress> Addresses, TimeSpan Ttl, string? Problem)
{
    public static TargetAddresses NotFound(string problem) => new([], TimeSpan.MaxValue, problem);
}

/// <summary>What one refresh found.</summary>
internal sealed record DnsResolution(IReadOnlyList<MeshEndpoint> Endpoints, TimeSpan Ttl, IReadOnlyList<SkippedRecord> Skipped);

/// <summary>A record that was not used, and why.</summary>
internal readonly record struct SkippedRecord(string Record, string Reason)
{
    public override string ToString() => $"{Record}: {Reason}";
}

/// <summary>A refresh that could not find endpoints; the last known set stays in use.</summary>
internal sealed class DnsDiscoveryException(string message, Exception? inner = null) : MeshDiscoveryException(message, inner);

/// <summary>
/// Turns DNS records into endpoints. SRV: records are grouped by priority and only the lowest-priority group with at
/// least one usable record is used (RFC 2782 preference groups); the SRV weight becomes the endpoint weight (0 counts
/// as 1); each target is resolved to its A/AAAA addresses. Unusable records (port 0, target ".", a target that does
/// not resolve, duplicates) are skipped and named in <see cref="DnsResolution.Skipped"/>. Pure, for testing.
/// </summary>
internal static class DnsEndpointMapper
{
    public static async ValueTask<DnsResolution> FromSrvAsync(
        string name,
        IReadOnlyList<SrvRecord> records,
        string scheme,
        Func<string, CancellationToken, ValueTask<TargetAddresses>> resolveTarget,
        CancellationToken cancellationToken)
    {
        if (records.Count == 0)
        {
            throw new DnsDiscoveryException($"DNS name {name} has no SRV records.");
        }

        var skipped = new List<SkippedRecord>();
        foreach (var group in records.GroupBy(r => r.Priority).OrderBy(g => g.Key))
        {
            var endpoints = new List<MeshEndpoint>();
            var keys = new HashSet<string>(StringComparer.Ordinal);
            var ttl = TimeSpan.MaxValue;
            foreach (var record in group)
            {
                var target = record.Target.Value.TrimEnd('.');
                var description = $"{name} SRV {record.Priority} {record.Weight} {record.Port} {record.Target.Value}";
                if (target.Length == 0)
                {
                    skipped.Add(new(description, $"the target '.' means the service is not offered at this priority"));
                    continue;
                }

                if (record.Port == 0)
                {
                    skipped.Add(new(description, $"port 0 is not a usable port"));
                    continue;
                }

                var addresses = await resolveTarget(target, cancellationToken).ConfigureAwait(false);
                if (addresses.Problem is { } problem)
                {
                    skipped.Add(new(description, $"{problem}"));
                    continue;
                }

                if (addresses.Addresses.Count == 0)
                {
                    skipped.Add(new(description, $"{target} resolves to no address"));
                    continue;
                }

                var weight = record.Weight == 0 ? 1 : record.Weight;
                var used = false;
                foreach (var address in addresses.Addresses)
                {
                    var endpoint = new MeshEndpoint(CreateAddress(scheme, address, record.Port), weight);
                    if (!keys.Add(endpoint.Key))
                    {
                        skipped.Add(new(description, $"{endpoint.Key} is listed by an earlier record already"));
                        continue;
                    }

                    endpoints.Add(endpoint);
                    used = true;
                }

                if (used)
                {
                    // A TTL with its top bit set arrives as a negative int; RFC 2181 (8) reads it as 0.
                    ttl = Min(ttl, TimeSpan.FromSeconds(Math.Max(0, record.TimeToLive)), addresses.Ttl < TimeSpan.Zero ? TimeSpan.Zero : addresses.Ttl);
                }
            }

            if (endpoints.Count > 0)
            {
                endpoints.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
                return new DnsResolution(endpoints, ttl, skipped);
            }
        }

        throw new DnsDiscoveryException($"none of the {records.Count} SRV records of {name} is usable: {string.Join("; ", skipped)}.");
    }

    public static DnsResolution FromAddresses(string name, TargetAddresses addresses, int port, string scheme)
    {
        if (addresses.Problem is { } problem)
        {
            throw new DnsDiscoveryException($"DNS name {name}: {problem}.");
        }

        var endpoints = addresses.Addresses
            .Select(a => new MeshEndpoint(CreateAddress(scheme, a, port)))
            .DistinctBy(e => e.Key)
            .OrderBy(e => e.Key, StringComparer.Ordinal)
            .ToList();
        return new DnsResolution(endpoints, addresses.Ttl < TimeSpan.Zero ? TimeSpan.Zero : addresses.Ttl, []);
    }

    public static Uri CreateAddress(string scheme, IPAddress address, int port)
    {
        var host = address.AddressFamily == AddressFamily.InterNetworkV6
            ? "[" + new IPAddress(address.GetAddressBytes()) + "]" // without a scope id: it cannot be in a URI host
            : address.ToString();
        return new Uri($"{scheme}://{host}:{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b, TimeSpan c) => a < b ? (a < c ? a : c) : (b < c ? b : c);
}
