using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Identity.Internal;

/// <summary>The client side of a mesh TLS handshake: picks the current SVID and checks the server's.</summary>
internal sealed class MeshTlsClientAuthenticator
{
    private readonly IMeshIdentitySource _identity;
    private readonly SpiffeIdPattern[] _expected;
    private readonly string _expectedText;
    private readonly X509SvidValidator _validator;
    private readonly ILogger _logger;

    public MeshTlsClientAuthenticator(IMeshIdentitySource identity, SpiffeIdPattern expectedServer, ILogger? logger, TimeProvider? timeProvider)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(expectedServer);
        _identity = identity;
        _expected = [expectedServer];
        _expectedText = expectedServer.ToString();
        _validator = new X509SvidValidator(timeProvider);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Sets the callbacks and policies on <paramref name="options"/>.</summary>
    public void Apply(SslClientAuthenticationOptions options)
    {
        options.LocalCertificateSelectionCallback = SelectCertificate;
        options.RemoteCertificateValidationCallback = ValidateServer;
        options.EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
        options.CertificateRevocationCheckMode = X509RevocationMode.NoCheck;
        // Every connection does a full handshake: it presents the current SVID and is checked against the current bundle.
        options.AllowTlsResume = false;
        // The identity check replaces the host-name check; SslStream's own chain build must not go online.
        options.CertificateChainPolicy = new X509ChainPolicy
        {
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
            VerificationFlags = X509VerificationFlags.IgnoreInvalidName,
        };
    }

    /// <summary>A client options instance for a raw <see cref="SslStream"/> (benchmarks, tests).</summary>
    public SslClientAuthenticationOptions CreateOptions(string targetHost)
    {
        var options = new SslClientAuthenticationOptions { TargetHost = targetHost };
        Apply(options);
        return options;
    }

    private X509Certificate SelectCertificate(object sender, string targetHost, X509CertificateCollection localCertificates, X509Certificate? remoteCertificate, string[] acceptableIssuers) =>
        _identity.Current.Svid.Certificate;

    private bool ValidateServer(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors sslPolicyErrors)
    {
        var leaf = certificate as X509Certificate2 ?? (certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        var identity = _identity.Current;
        var result = _validator.Validate(leaf, ChainHints.Combine(chain?.ChainPolicy.ExtraStore, identity.Svid.Intermediates), identity.Bundles, _expected);
        if (result.IsValid)
        {
            return true;
        }

        var target = (sender as SslStream)?.TargetHostName is { Length: > 0 } host ? host : "(unknown)";
        IdentityLog.ServerRefused(_logger, target, result.Reason, result.Message);
        var presented = result.PresentedIdentity is null ? "no SPIFFE ID" : result.PresentedIdentity;
        throw new SpiffeAuthenticationException(result.Reason, _expectedText, result.PresentedIdentity,
            $"The server did not prove the expected identity {_expectedText}; it presented {presented} ({result.Reason}). {result.Message}");
    }
}
