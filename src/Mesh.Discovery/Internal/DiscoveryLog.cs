using Microsoft.Extensions.Logging;

namespace Mesh.Discovery.Internal;

/// <summary>Every log line of Mesh.Discovery, with stable event ids (6000-6999). Failures that the mesh also logs
/// (through <see cref="MeshDiscoveryContext.ReportFailure"/>) are logged here at Debug only, to avoid doubles.</summary>
internal static partial class DiscoveryLog
{
    [LoggerMessage(6001, LogLevel.Warning, "Mesh service {Service}: skipped DNS record {Record}: {Reason}", EventName = "DnsRecordSkipped")]
    public static partial void DnsRecordSkipped(ILogger logger, string service, string record, string reason);

    [LoggerMessage(6002, LogLevel.Debug, "Mesh service {Service}: DNS {Name} gave {Count} endpoints; next refresh in {Delay}", EventName = "DnsResolved")]
    public static partial void DnsResolved(ILogger logger, string service, string name, int count, TimeSpan delay);

    [LoggerMessage(6003, LogLevel.Debug, "Mesh service {Service}: DNS refresh of {Name} failed (attempt {Attempt}); retrying in {Delay}: {Reason}", EventName = "DnsRefreshFailed")]
    public static partial void DnsRefreshFailed(ILogger logger, string service, string name, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(6010, LogLevel.Warning, "Mesh service {Service}: skipped etcd entry {Key}: {Reason}", EventName = "EtcdEntrySkipped")]
    public static partial void EtcdEntrySkipped(ILogger logger, string service, string key, string reason);

    [LoggerMessage(6011, LogLevel.Debug, "Mesh service {Service}: listed {Count} etcd entries under {Prefix} at revision {Revision}; watching from there", EventName = "EtcdListed")]
    public static partial void EtcdListed(ILogger logger, string service, string prefix, int count, long revision);

    [LoggerMessage(6012, LogLevel.Information, "Mesh service {Service}: etcd watch on {Prefix} was compacted at revision {Revision}; listing again", EventName = "EtcdWatchCompacted")]
    public static partial void EtcdWatchCompacted(ILogger logger, string service, string prefix, long revision);

    [LoggerMessage(6013, LogLevel.Debug, "Mesh service {Service}: etcd watch on {Prefix} failed (attempt {Attempt}); listing again in {Delay}: {Reason}", EventName = "EtcdWatchFailed")]
    public static partial void EtcdWatchFailed(ILogger logger, string service, string prefix, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(6030, LogLevel.Warning, "Mesh service {Service}: skipped an endpoint from Microsoft.Extensions.ServiceDiscovery: {Reason}", EventName = "ServiceDiscoveryEndpointSkipped")]
    public static partial void ServiceDiscoveryEndpointSkipped(ILogger logger, string service, string reason);

    [LoggerMessage(6031, LogLevel.Debug, "Mesh service {Service}: Microsoft.Extensions.ServiceDiscovery resolved {Name} to {Count} endpoints", EventName = "ServiceDiscoveryResolved")]
    public static partial void ServiceDiscoveryResolved(ILogger logger, string service, string name, int count);

    [LoggerMessage(6032, LogLevel.Debug, "Mesh service {Service}: Microsoft.Extensions.ServiceDiscovery could not resolve {Name} (attempt {Attempt}); retrying in {Delay}: {Reason}", EventName = "ServiceDiscoveryFailed")]
    public static partial void ServiceDiscoveryFailed(ILogger logger, string service, string name, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(6020, LogLevel.Information, "Mesh registration: registered {Key} -> {Address} under lease {Lease:x} (TTL {Ttl} s)", EventName = "Registered")]
    public static partial void Registered(ILogger logger, string key, string address, long lease, long ttl);

    [LoggerMessage(6021, LogLevel.Warning, "Mesh registration: could not register or keep {Key} alive (attempt {Attempt}); retrying in {Delay}", EventName = "RegistrationFailed")]
    public static partial void RegistrationFailed(ILogger logger, Exception error, string key, int attempt, TimeSpan delay);

    [LoggerMessage(6022, LogLevel.Warning, "Mesh registration: lease {Lease:x} of {Key} expired; registering again", EventName = "LeaseExpired")]
    public static partial void LeaseExpired(ILogger logger, long lease, string key);

    [LoggerMessage(6023, LogLevel.Information, "Mesh registration: deregistered {Key} and revoked lease {Lease:x}", EventName = "Deregistered")]
    public static partial void Deregistered(ILogger logger, string key, long lease);

    [LoggerMessage(6025, LogLevel.Information, "Mesh registration: waiting {Delay} for clients to see {Key} leave before the host stops", EventName = "DeregistrationDelay")]
    public static partial void WaitingAfterDeregistration(ILogger logger, string key, TimeSpan delay);

    [LoggerMessage(6024, LogLevel.Warning, "Mesh registration: could not deregister {Key}; it disappears when lease {Lease:x} expires", EventName = "DeregistrationFailed")]
    public static partial void DeregistrationFailed(ILogger logger, Exception error, string key, long lease);
}
