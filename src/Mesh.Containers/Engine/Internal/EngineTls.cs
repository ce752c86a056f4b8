using System.Globalization;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Docker.DotNet.Handler.Abstractions;
using Docker.DotNet.X509;

namespace Mesh.Containers.Internal;

/// <summary>Where the TLS material of a TCP endpoint lies and which of it must be there.</summary>
/// <param name="Directory">The directory holding <c>ca.pem</c>, <c>cert.pem</c> and <c>key.pem</c>.</param>
/// <param name="Source">Where the directory came from, for messages (for example <c>DOCKER_CERT_PATH</c> or <c>docker context 'ci'</c>).</param>
/// <param name="Required">Whether all three files must exist (<c>DOCKER_TLS_VERIFY</c>); a context uses what it has, as the docker CLI does.</param>
internal sealed record EngineTlsSettings(string Directory, string Source, bool Required)
{
    public string CaFile => Path.Combine(Directory, "ca.pem");

    public string CertFile => Path.Combine(Directory, "cert.pem");

    public string KeyFile => Path.Combine(Directory, "key.pem");
}

/// <summary>
/// The loaded TLS material of an engine endpoint: the CA the engine's certificate must chain to (<c>ca.pem</c>;
/// the system's trusted CAs only when a context has none) and this client's certificate (<c>cert.pem</c> + <c>key.pem</c>).
/// There is no "accept any certificate" path. Problems found before connecting (a missing file, an expired
/// certificate, a key that does not match) fail with the file and the reason.
/// </summary>
internal sealed class EngineTls : IDisposable
{
    private static readonly Oid s_serverAuth = new("1.3.6.1.5.5.7.3.1", "Server Authentication");
    private static readonly Oid s_clientAuth = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    private EngineTls(EngineTlsSettings settings, X509Certificate2Collection? roots, X509Certificate2? clientCertificate)
    {
        Settings = settings;
        Roots = roots;
        ClientCertificate = clientCertificate;
    }

    public EngineTlsSettings Settings { get; }

    /// <summary>The CAs from <c>ca.pem</c>, or <see langword="null"/> for the system's trusted CAs (a context without <c>ca.pem</c>).</summary>
    public X509Certificate2Collection? Roots { get; }

    public X509Certificate2? ClientCertificate { get; }

    /// <summary>Loads and checks the material.</summary>
    /// <exception cref="DockerEngineUnavailableException">A file is missing or unusable, or a certificate is expired or not yet valid.</exception>
    public static EngineTls Load(EngineTlsSettings settings, Uri endpoint, TimeProvider timeProvider)
    {
        var now = timeProvider.GetUtcNow().UtcDateTime;
        if (settings.Required && !System.IO.Directory.Exists(settings.Directory))
        {
            throw Fail(endpoint, settings, $"the directory {settings.Directory} does not exist; it must hold ca.pem, cert.pem and key.pem");
        }

        X509Certificate2Collection? roots = null;
        if (File.Exists(settings.CaFile))
        {
            roots = LoadCa(settings, endpoint, now);
        }
        else if (settings.Required)
        {
            throw Fail(endpoint, settings, $"{settings.CaFile} does not exist; it is the CA the engine's certificate is verified against");
        }

        try
        {
            var hasCert = File.Exists(settings.CertFile);
            var hasKey = File.Exists(settings.KeyFile);
            if (!hasCert && (settings.Required || hasKey))
            {
                throw Fail(endpoint, settings, $"{settings.CertFile} does not exist; it is this client's certificate, which an engine with --tlsverify requires");
            }

            if (!hasKey && (settings.Required || hasCert))
            {
                throw Fail(endpoint, settings, $"{settings.KeyFile} does not exist; it is the private key of {settings.CertFile}");
            }

            var client = hasCert ? LoadClientCertificate(settings, endpoint, now) : null;
            return new EngineTls(settings, roots, client);
        }
        catch
        {
            Dispose(roots);
            throw;
        }
    }

    /// <summary>A verifier of the engine's certificate for one connection attempt; it remembers why it refused.</summary>
    public EngineCertificateVerifier CreateVerifier(Uri endpoint, TimeProvider timeProvider) => new(this, endpoint, timeProvider);

    /// <summary>Docker.DotNet's client-certificate credentials (Docker.DotNet.Enhanced.X509), verifying the engine with <paramref name="verifier"/>.</summary>
    public IAuthProvider CreateCredentials(EngineCertificateVerifier verifier) =>
        new CertificateCredentials(ClientCertificate) { ServerCertificateValidationCallback = verifier.Validate };

    /// <summary>The same settings for a plain <see cref="SocketsHttpHandler"/> (the version ping).</summary>
    public void Configure(SocketsHttpHandler handler, EngineCertificateVerifier verifier)
    {
        handler.SslOptions = new SslClientAuthenticationOptions
        {
            // Docker.DotNet's TCP transport speaks TLS 1.2; the ping speaks what the client will, so that it fails when the client would.
            EnabledSslProtocols = SslProtocols.Tls12,
            ClientCertificates = ClientCertificate is null ? null : new X509CertificateCollection { ClientCertificate },
            RemoteCertificateValidationCallback = verifier.Validate,
        };
    }

    /// <summary>Explains a handshake the engine ended (as opposed to one this side refused).</summary>
    public string ExplainRejectedHandshake()
    {
        if (ClientCertificate is null)
        {
            return $"The engine requires a client certificate and none was sent: {Settings.Source} has no cert.pem and key.pem in {Settings.Directory}";
        }

        return $"The engine did not accept the client certificate {Settings.CertFile} ({Describe(ClientCertificate)}): " +
               "it must be issued by a CA the engine trusts (dockerd --tlscacert) and be valid now";
    }

    public void Dispose()
    {
        ClientCertificate?.Dispose();
        Dispose(Roots);
    }

    internal static string Describe(X509Certificate2 certificate) => string.Create(CultureInfo.InvariantCulture,
        $"subject '{certificate.Subject}', issuer '{certificate.Issuer}', valid {certificate.NotBefore.ToUniversalTime():u} to {certificate.NotAfter.ToUniversalTime():u}");

    internal static DockerEngineUnavailableException Fail(Uri endpoint, EngineTlsSettings settings, string reason, Exception? inner = null) =>
        new($"TLS for the engine at {endpoint} ({settings.Source}): {reason}.", [endpoint], inner);

    private static X509Certificate2Collection LoadCa(EngineTlsSettings settings, Uri endpoint, DateTime now)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(settings.CaFile);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            Dispose(roots);
            throw Fail(endpoint, settings, $"{settings.CaFile} could not be read as PEM certificates: {e.Message}", e);
        }

        if (roots.Count == 0)
        {
            throw Fail(endpoint, settings, $"{settings.CaFile} holds no PEM certificate");
        }

        if (roots.All(c => c.NotAfter.ToUniversalTime() < now))
        {
            var ca = roots[0];
            var message = string.Create(CultureInfo.InvariantCulture, $"{settings.CaFile}: the CA certificate expired on {ca.NotAfter.ToUniversalTime():u} (now {now:u}); {Describe(ca)}");
            Dispose(roots);
            throw Fail(endpoint, settings, message);
        }

        return roots;
    }

    private static X509Certificate2 LoadClientCertificate(EngineTlsSettings settings, Uri endpoint, DateTime now)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = DockerTlsCertificates.LoadCertificateFromPemFiles(settings.CertFile, settings.KeyFile);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw Fail(endpoint, settings, $"{settings.CertFile} with {settings.KeyFile} could not be loaded as a PEM certificate and its private key: {e.Message}", e);
        }

        string? problem = null;
        if (certificate.NotAfter.ToUniversalTime() < now)
        {
            problem = string.Create(CultureInfo.InvariantCulture,
                $"{settings.CertFile}: the client certificate expired on {certificate.NotAfter.ToUniversalTime():u} (now {now:u}), so the engine would refuse it; issue a new one ({Describe(certificate)})");
        }
        else if (certificate.NotBefore.ToUniversalTime() > now)
        {
            problem = string.Create(CultureInfo.InvariantCulture,
                $"{settings.CertFile}: the client certificate is not valid before {certificate.NotBefore.ToUniversalTime():u} (now {now:u}); check this machine's clock ({Describe(certificate)})");
        }
        else if (certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault() is { } usage &&
                 !usage.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == s_clientAuth.Value))
        {
            problem = $"{settings.CertFile}: the certificate is not valid for client authentication (its extended key usage lacks clientAuth), so the engine would refuse it ({Describe(certificate)})";
        }

        if (problem is not null)
        {
            certificate.Dispose();
            throw Fail(endpoint, settings, problem);
        }

        return certificate;
    }

    private static void Dispose(X509Certificate2Collection? certificates)
    {
        if (certificates is null)
        {
            return;
        }

        foreach (var certificate in certificates)
        {
            certificate.Dispose();
        }
    }

    internal static Oid ServerAuth => s_serverAuth;
}

/// <summary>
/// Verifies the engine's certificate: it must chain to <c>ca.pem</c> (a custom root store, never a merged pool;
/// the system's CAs only for a context without <c>ca.pem</c>), be valid now, be meant for server authentication and
/// name the host it was reached on, as the docker CLI requires. The reason of a refusal is kept for the error message.
/// </summary>
internal sealed class EngineCertificateVerifier(EngineTls tls, Uri endpoint, TimeProvider timeProvider)
{
    private volatile string? _failure;

    /// <summary>Why the last certificate was refused, or <see langword="null"/>.</summary>
    public string? Failure => _failure;

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            _failure = "the engine sent no certificate";
            return false;
        }

        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        try
        {
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            {
                _failure = $"the engine's certificate is not issued for '{endpoint.Host}' (it names {Names(leaf)}; {EngineTls.Describe(leaf)})";
                return false;
            }

            using var custom = new X509Chain();
            var policy = custom.ChainPolicy;
            policy.RevocationMode = X509RevocationMode.NoCheck;
            policy.ApplicationPolicy.Add(EngineTls.ServerAuth);
            policy.VerificationTime = timeProvider.GetUtcNow().UtcDateTime;
            policy.VerificationTimeIgnored = false;
            if (tls.Roots is { } roots)
            {
                policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                policy.CustomTrustStore.AddRange(roots);
            }

            if (chain is not null)
            {
                foreach (var element in chain.ChainElements.Skip(1))
                {
                    policy.ExtraStore.Add(element.Certificate);
                }
            }

            if (custom.Build(leaf))
            {
                _failure = null;
                return true;
            }

            var against = tls.Roots is null ? "the system's trusted CAs (the context has no ca.pem)" : $"the CA in {tls.Settings.CaFile}";
            _failure = $"the engine's certificate does not verify against {against}: {Explain(custom, leaf)} ({EngineTls.Describe(leaf)})";
            return false;
        }
        finally
        {
            if (!ReferenceEquals(leaf, certificate))
            {
                leaf.Dispose();
            }
        }
    }

    private static string Explain(X509Chain chain, X509Certificate2 leaf)
    {
        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        var reasons = new List<string>();
        if ((flags & (X509ChainStatusFlags.PartialChain | X509ChainStatusFlags.UntrustedRoot)) != 0)
        {
            reasons.Add("it is not issued by that CA");
        }

        if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"a certificate of its chain is expired or not yet valid (the engine's: {leaf.NotBefore.ToUniversalTime():u} to {leaf.NotAfter.ToUniversalTime():u})"));
        }

        if ((flags & X509ChainStatusFlags.NotValidForUsage) != 0)
        {
            reasons.Add("it is not valid for server authentication");
        }

        var details = string.Join("; ", chain.ChainStatus.Select(s => $"{s.Status}: {s.StatusInformation.Trim()}").Distinct());
        return (reasons.Count == 0 ? "the chain does not build" : string.Join(", and ", reasons)) + $" [{details}]";
    }

    private static string Names(X509Certificate2 certificate)
    {
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null)
        {
            return $"no subject alternative name, subject '{certificate.Subject}'";
        }

        var names = san.EnumerateDnsNames().Select(n => "DNS:" + n)
            .Concat(san.EnumerateIPAddresses().Select(a => "IP:" + a))
            .ToList();
        return names.Count == 0 ? "no DNS name or IP address" : string.Join(", ", names);
    }
}
