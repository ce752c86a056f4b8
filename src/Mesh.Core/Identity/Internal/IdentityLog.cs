using Microsoft.Extensions.Logging;

namespace Mesh.Identity.Internal;

/// <summary>Every log line of the identity feature in Mesh.Core: identity files and the client side of the handshake
/// (the server side logs from Mesh.AspNetCore). Only identities, serial numbers, thumbprints, paths and reasons are
/// logged; key material never is.</summary>
internal static partial class IdentityLog
{
    [LoggerMessage(EventId = 5001, EventName = "IdentityLoaded", Level = LogLevel.Information,
        Message = "Loaded the workload identity {SpiffeId} (serial {Serial}, expires {NotAfter:u}) from {CertificatePath}; trust bundles for: {TrustDomains}.")]
    public static partial void IdentityLoaded(ILogger logger, SpiffeId spiffeId, string serial, DateTimeOffset notAfter, string certificatePath, string trustDomains);

    [LoggerMessage(EventId = 5002, EventName = "IdentityRotated", Level = LogLevel.Information,
        Message = "Rotated the workload identity to {SpiffeId} (serial {Serial}, expires {NotAfter:u}); previous serial {PreviousSerial}. New connections use it.")]
    public static partial void IdentityRotated(ILogger logger, SpiffeId spiffeId, string serial, DateTimeOffset notAfter, string previousSerial);

    [LoggerMessage(EventId = 5003, EventName = "IdentityReloadRejected", Level = LogLevel.Warning,
        Message = "Ignored the new identity files ({CertificatePath}, {KeyPath}, {TrustBundlePath}): {Problem} Keeping the last good identity {SpiffeId} (serial {Serial}, expires {NotAfter:u}).")]
    public static partial void IdentityReloadRejected(ILogger logger, string certificatePath, string keyPath, string trustBundlePath, string problem, SpiffeId spiffeId, string serial, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 5004, EventName = "IdentityWatchUnavailable", Level = LogLevel.Warning,
        Message = "Cannot watch {Directory} for identity file changes ({Problem}); polling every {PollInterval} instead.")]
    public static partial void WatchUnavailable(ILogger logger, string directory, string problem, TimeSpan pollInterval);

    [LoggerMessage(EventId = 5005, EventName = "IdentityReloadFailed", Level = LogLevel.Error,
        Message = "Reloading the identity files failed unexpectedly; keeping the last good identity and retrying at the next change or poll.")]
    public static partial void ReloadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5006, EventName = "IdentityIdChanged", Level = LogLevel.Warning,
        Message = "The rotated identity files carry another SPIFFE ID: the workload is now {SpiffeId}, was {PreviousSpiffeId} (serial {Serial}, expires {NotAfter:u}; previous serial {PreviousSerial}; from {CertificatePath}). " +
                  "New connections present it; peers that authorize only the previous ID will refuse them.")]
    public static partial void IdentityIdChanged(ILogger logger, SpiffeId spiffeId, SpiffeId previousSpiffeId, string serial, DateTimeOffset notAfter, string previousSerial, string certificatePath);

    [LoggerMessage(EventId = 5007, EventName = "KeyFileUnprotected", Level = LogLevel.Warning,
        Message = "The private key file {KeyPath} is accessible by group or others (mode {Mode}); restrict it to its owner (chmod 600), " +
                  "or set {OptionKey} to Enforce to refuse such keys.")]
    public static partial void KeyFileUnprotected(ILogger logger, string keyPath, string mode, string optionKey);

    [LoggerMessage(EventId = 5020, EventName = "ServerRefused", Level = LogLevel.Warning,
        Message = "Refused the server at {Target}: {Reason}. {Detail}")]
    public static partial void ServerRefused(ILogger logger, string target, X509SvidFailureReason reason, string detail);
}
