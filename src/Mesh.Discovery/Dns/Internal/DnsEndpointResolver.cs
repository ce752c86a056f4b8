using System.Net;
using DnsClient;
using DnsClient.Protocol;

namespace Mesh.Discovery.Dns.Internal;

/// <summary>Asks DNS (through DnsClient) for one service's records and maps them with <see cref="DnsEndpointMapper"/>.
/// Transient problems (timeouts, SERVFAIL) throw <see cref="DnsDiscoveryException"/>: the refresh failed.</summary>
internal sealed class DnsEndpointResolver(IDnsQuery lookup)
{
    public async Task<DnsResolution> ResolveAsync(DnsServiceSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Port is { } port)
        {
            var addresses = await ResolveHostAsync(settings.Name, null, cancellationToken).ConfigureAwait(false);
            return DnsEndpointMapper.FromAddresses(settings.Name, addresses, port, settings.Scheme);
        }

        IDnsQueryResponse response;
        try
        {
            response = await lookup.QueryAsync(settings.Name, QueryType.SRV, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        }
        catch (DnsResponseException ex)
        {
            throw new DnsDiscoveryException($"SRV query for {settings.Name} failed: {ex.Message}", ex);
        }

        if (response.HasError)
        {
            throw new DnsDiscoveryException($"SRV query for {settings.Name} failed: {response.Header.ResponseCode} ({response.ErrorMessage}) from {response.NameServer}.");
        }

        // Targets the server already resolved in the additional section (dnsmasq, CoreDNS and Consul do) need no query.
        var additional = new Dictionary<string, (List<IPAddress> Addresses, TimeSpan Ttl)>(StringComparer.OrdinalIgnoreCase);
        foreach (var record in response.Additionals)
        {
            var (host, address) = record switch
            {
                ARecord a => (a.DomainName.Value.TrimEnd('.'), a.Address),
                AaaaRecord aaaa => (aaaa.DomainName.Value.TrimEnd('.'), aaaa.Address),
                _ => (null, null),
            };
            if (host is null || address is null)
            {
                continue;
            }

            ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(additional, host, out var exists);
            if (!exists)
            {
                entry = ([], TimeSpan.MaxValue);
            }

            entry.Addresses.Add(address);
            entry.Ttl = TimeSpan.FromSeconds(Math.Min(entry.Ttl.TotalSeconds, record.TimeToLive));
        }

        var srv = response.Answers.SrvRecords().ToList();
        return await DnsEndpointMapper.FromSrvAsync(
            settings.Name,
            srv,
            settings.Scheme,
            (target, ct) => additional.TryGetValue(target, out var known)
                ? new ValueTask<TargetAddresses>(new TargetAddresses(known.Addresses, known.Ttl, null))
                : new ValueTask<TargetAddresses>(ResolveHostAsync(target, settings.Name, ct)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Resolves A and AAAA together. Addresses of either family count; when neither has any, an authoritative
    /// "no such name" is a problem (the record is skipped) and anything else is a failure of the refresh.</summary>
    private async Task<TargetAddresses> ResolveHostAsync(string host, string? srvName, CancellationToken cancellationToken)
    {
        var a = QueryFamilyAsync(host, QueryType.A, cancellationToken);
        var aaaa = QueryFamilyAsync(host, QueryType.AAAA, cancellationToken);
        var (aAddresses, aTtl, aStatus, aTransient) = await a.ConfigureAwait(false);
        var (sixAddresses, sixTtl, sixStatus, sixTransient) = await aaaa.ConfigureAwait(false);
        if (aAddresses.Count + sixAddresses.Count > 0)
        {
            List<IPAddress> all = [.. aAddresses, .. sixAddresses];
            return new TargetAddresses(all, aTtl < sixTtl ? aTtl : sixTtl, null);
        }

        if (aTransient || sixTransient)
        {
            var what = srvName is null ? host : $"{host} (target of {srvName})";
            throw new DnsDiscoveryException($"could not resolve {what}: A {aStatus}, AAAA {sixStatus}.");
        }

        return TargetAddresses.NotFound($"{host} does not resolve (A: {aStatus}, AAAA: {sixStatus})");
    }

    private async Task<(List<IPAddress> Addresses, TimeSpan Ttl, string Status, bool Transient)> QueryFamilyAsync(string host, QueryType type, CancellationToken cancellationToken)
    {
        IDnsQueryResponse response;
        try
        {
            response = await lookup.QueryAsync(host, type, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        }
        catch (DnsResponseException ex)
        {
            return ([], TimeSpan.MaxValue, ex.Message, true);
        }

        if (response.HasError)
        {
            var code = response.Header.ResponseCode;
            var transient = code is not (DnsHeaderResponseCode.NotExistentDomain or DnsHeaderResponseCode.Refused or DnsHeaderResponseCode.NotImplemented);
            return ([], TimeSpan.MaxValue, code.ToString(), transient);
        }

        var addresses = new List<IPAddress>();
        var ttl = TimeSpan.MaxValue;
        foreach (var record in response.Answers)
        {
            IPAddress? address = record switch
            {
                ARecord r when type == QueryType.A => r.Address,
                AaaaRecord r when type == QueryType.AAAA => r.Address,
                _ => null,
            };
            if (address is not null)
            {
                addresses.Add(address);
                ttl = TimeSpan.FromSeconds(Math.Min(ttl.TotalSeconds, record.TimeToLive));
            }
        }

        return (addresses, ttl, addresses.Count == 0 ? "no records" : "ok", false);
    }
}
