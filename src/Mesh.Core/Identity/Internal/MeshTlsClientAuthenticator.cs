using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
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

    /// <summary>The server as <c>https://host:port</c> (the way the mesh names endpoints). SslStream knows only the host
    /// it was given (TLS's server name); the port is the remote end of the connection underneath, when that is a socket
    /// (SocketsHttpHandler's default connection, also the mesh transport's).</summary>
    internal static string DescribeTarget(SslStream? stream)
    {
        var host = stream?.TargetHostName;
        EndPoint? remote = null;
        try
        {
            if (stream is not null && InnerStream(stream) is NetworkStream network)
            {
                remote = network.Socket.RemoteEndPoint;
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException or MissingMethodException)
        {
            // the connection is gone (or the runtime changed): name what is known
        }

        if (string.IsNullOrEmpty(host))
        {
            return remote is null ? "(unknown)" : $"https://{remote}";
        }

        if (host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('['))
        {
            host = $"[{host}]"; // an IPv6 literal
        }

        return remote is IPEndPoint { Port: var port }
            ? string.Create(CultureInfo.InvariantCulture, $"https://{host}:{port}")
            : $"https://{host}";
    }

    // AuthenticatedStream.InnerStream is protected; UnsafeAccessor reads it without reflection (trimming- and AOT-safe).
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_InnerStream")]
    private static extern Stream InnerStream(AuthenticatedStream stream);

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

        IdentityLog.ServerRefused(_logger, DescribeTarget(sender as SslStream), result.Reason, result.Message);
        var presented = result.PresentedIdentity is null ? "no SPIFFE ID" : result.PresentedIdentity;
        throw new SpiffeAuthenticationException(result.Reason, _expectedText, result.PresentedIdentity,
            $"The server did not prove the expected identity {_expectedText}; it presented {presented} ({result.Reason}). {result.Message}");
    }
}
