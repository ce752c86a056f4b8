using System.Diagnostics.CodeAnalysis;
using Mesh.Configuration.Internal;
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
    [AllowedRange("00:00:00.100", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>What to do when the key file (<see cref="KeyPath"/>) is accessible by its group or by others
    /// (Unix mode bits <c>0077</c>, such as <c>0644</c>), as OpenSSH does for its keys. Checked each time a key is loaded
    /// (at start and at every rotation); not on Windows. Fix the file with <c>chmod 600</c> (or, on Kubernetes, a
    /// volume <c>defaultMode</c> of <c>0400</c>).</summary>
    /// <value>Default <see cref="KeyFilePermissionCheck.Warn"/> (load it and log a warning); <see cref="KeyFilePermissionCheck.Enforce"/>
    /// refuses such a key; <see cref="KeyFilePermissionCheck.Ignore"/> does not check. Key <c>Mesh:Identity:KeyFilePermissions</c>.</value>
    public KeyFilePermissionCheck KeyFilePermissions { get; set; } = KeyFilePermissionCheck.Warn;

    /// <summary>Problems found while reading configuration (values that do not parse), reported by validation.</summary>
    internal List<string> ConfigurationErrors { get; } = [];

    /// <summary>The path of the configuration section the options were read from (for messages).</summary>
    internal string ConfigurationPath { get; set; } = SectionName;

    /// <summary>Reads the options from a configuration section (the <c>Mesh:Identity</c> section), key by key, without reflection.</summary>
    /// <param name="section">The section.</param>
    /// <returns>The options.</returns>
    /// <exception cref="InvalidOperationException">A value cannot be read; the message names each such key and the expected format.</exception>
    public static MeshIdentityOptions FromConfiguration(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var options = new MeshIdentityOptions();
        options.ReadFrom(section);
        return options.ConfigurationErrors.Count == 0
            ? options
            : throw new InvalidOperationException(string.Join(Environment.NewLine, options.ConfigurationErrors));
    }

    /// <summary>Reads the section into these options; problems go to <see cref="ConfigurationErrors"/>, naming the full key.</summary>
    internal void ReadFrom(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        ConfigurationPath = ConfigurationReader.SectionPath(section, SectionName);
        var reader = new ConfigurationReader(ConfigurationErrors, rootPath: ConfigurationPath);
        reader.Bind(section, this, s_keys, static (checkedValues, options) => checkedValues.Bind(options));
    }

    private static readonly ConfigurationKey[] s_keys =
    [
        ConfigurationKey.String(nameof(CertificatePath)),
        ConfigurationKey.String(nameof(KeyPath)),
        ConfigurationKey.String(nameof(TrustBundlePath)),
        ConfigurationKey.TimeSpan(nameof(PollInterval)),
        ConfigurationKey.Enum<KeyFilePermissionCheck>(nameof(KeyFilePermissions)),
    ];

    /// <summary>Every problem of the options: a missing file path, a value out of range.</summary>
    /// <param name="path">The key of the section in messages; by default the one the options were read from.</param>
    internal List<string> Validate(string? path = null)
    {
        path ??= ConfigurationPath;
        var errors = new List<string>(ConfigurationErrors);
        if (string.IsNullOrWhiteSpace(CertificatePath))
        {
            errors.Add($"{path}:{nameof(CertificatePath)}: required; the PEM file holding the workload's X.509-SVID (leaf first, then intermediates), for example certs/svid.pem.");
        }

        if (string.IsNullOrWhiteSpace(KeyPath))
        {
            errors.Add($"{path}:{nameof(KeyPath)}: required; the PEM file holding the SVID's private key, for example certs/svid.key.");
        }

        if (string.IsNullOrWhiteSpace(TrustBundlePath))
        {
            errors.Add($"{path}:{nameof(TrustBundlePath)}: required; the PEM file holding the trust domain's root certificates, for example certs/bundle.pem.");
        }

        if (!Enum.IsDefined(KeyFilePermissions))
        {
            errors.Add($"{path}:{nameof(KeyFilePermissions)}: '{KeyFilePermissions}' is not valid; allowed values: {string.Join(", ", Enum.GetNames<KeyFilePermissionCheck>())}.");
        }

        MeshOptionsRanges.AddTo(errors, MeshOptionsRanges.Instance.Validate(path, this));
        return errors;
    }

    /// <summary>Checks the options; the message names every configuration key at fault and what is expected.</summary>
    internal bool TryValidate([NotNullWhen(false)] out string? error)
    {
        var errors = Validate();
        error = errors.Count == 0 ? null : string.Join(Environment.NewLine, errors);
        return error is null;
    }
}
