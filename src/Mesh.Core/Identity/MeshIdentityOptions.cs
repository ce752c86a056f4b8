using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Mesh.Identity;

/// <summary>
/// Where the workload's identity is read from: the <c>Mesh:Identity</c> configuration section.
/// The files are PEM, as written by cert-manager's csi-driver-spiffe, spiffe-helper or
/// <c>DevelopmentCertificateAuthority</c>, and are reloaded when they change.
/// </summary>
/// <example>
/// <code>
/// "Mesh": { "Identity": { "CertificatePath": "certs/svid.pem", "KeyPath": "certs/svid.key", "TrustBundlePath": "certs/bundle.pem" } }
/// </code>
/// </example>
public sealed class MeshIdentityOptions
{
    /// <summary>The configuration section these options are read from.</summary>
    public const string SectionName = "Mesh:Identity";

    /// <summary>The smallest <see cref="PollInterval"/> accepted.</summary>
    public static readonly TimeSpan MinPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The largest <see cref="PollInterval"/> accepted.</summary>
    public static readonly TimeSpan MaxPollInterval = TimeSpan.FromHours(1);

    /// <summary>The PEM file holding the workload's X.509-SVID: the leaf certificate first, then any intermediate CA certificates.
    /// Relative paths are resolved against the current directory. Key <c>Mesh:Identity:CertificatePath</c>; required.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM file holding the leaf's private key (PKCS#8 <c>PRIVATE KEY</c>, <c>EC PRIVATE KEY</c> or <c>RSA PRIVATE KEY</c>, not encrypted).
    /// Key <c>Mesh:Identity:KeyPath</c>; required.</summary>
    public string? KeyPath { get; set; }

    /// <summary>The PEM file holding the root certificates of the workload's own trust domain (the X.509 bundle).
    /// Key <c>Mesh:Identity:TrustBundlePath</c>; required.</summary>
    public string? TrustBundlePath { get; set; }

    /// <summary>How often the files are checked even when no file-system event arrived (the fallback for watchers that miss events,
    /// such as on network file systems).</summary>
    /// <value>Default 5 seconds; between 100 ms and 1 hour. Key <c>Mesh:Identity:PollInterval</c> (<c>hh:mm:ss</c>).</value>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Reads the options from a configuration section (the <c>Mesh:Identity</c> section), key by key, without reflection.</summary>
    /// <param name="section">The section.</param>
    /// <returns>The options.</returns>
    /// <exception cref="InvalidOperationException">A value cannot be read; the message names the key and the expected format.</exception>
    public static MeshIdentityOptions FromConfiguration(IConfiguration section)
    {
        var options = new MeshIdentityOptions();
        options.ReadFrom(section);
        return options;
    }

    internal void ReadFrom(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        CertificatePath = NullIfEmpty(section[nameof(CertificatePath)]) ?? CertificatePath;
        KeyPath = NullIfEmpty(section[nameof(KeyPath)]) ?? KeyPath;
        TrustBundlePath = NullIfEmpty(section[nameof(TrustBundlePath)]) ?? TrustBundlePath;
        if (NullIfEmpty(section[nameof(PollInterval)]) is { } poll)
        {
            PollInterval = TimeSpan.TryParse(poll, CultureInfo.InvariantCulture, out var interval)
                ? interval
                : throw new InvalidOperationException($"{SectionName}:{nameof(PollInterval)} is '{poll}', which is not a time span; expected hh:mm:ss, for example 00:00:05.");
        }
    }

    /// <summary>Checks the options; the message names the configuration key and what is expected.</summary>
    internal bool TryValidate([NotNullWhen(false)] out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(CertificatePath))
        {
            error = $"{SectionName}:{nameof(CertificatePath)} is required: the PEM file holding the workload's X.509-SVID (leaf first, then intermediates), for example certs/svid.pem.";
        }
        else if (string.IsNullOrWhiteSpace(KeyPath))
        {
            error = $"{SectionName}:{nameof(KeyPath)} is required: the PEM file holding the SVID's private key, for example certs/svid.key.";
        }
        else if (string.IsNullOrWhiteSpace(TrustBundlePath))
        {
            error = $"{SectionName}:{nameof(TrustBundlePath)} is required: the PEM file holding the trust domain's root certificates, for example certs/bundle.pem.";
        }
        else if (PollInterval < MinPollInterval || PollInterval > MaxPollInterval)
        {
            error = string.Create(CultureInfo.InvariantCulture,
                $"{SectionName}:{nameof(PollInterval)} is {PollInterval}; allowed values are {MinPollInterval} to {MaxPollInterval}.");
        }

        return error is null;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
