using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace Mesh.Identity.Internal;

/// <summary>The server side of a mesh TLS handshake: presents the current SVID, requires and validates the client's,
/// authorizes its SPIFFE ID, and records it on the connection.</summary>
internal sealed partial class MeshTlsServerAuthenticator
{
    private readonly IMeshIdentitySource _identity;
    private readonly SpiffeIdPattern[] _authorized;
    private readonly X509SvidValidator _validator;
    private readonly ILogger _logger;
    private readonly MeshServerMetrics _metrics;

    public MeshTlsServerAuthenticator(IMeshIdentitySource identity, IEnumerable<SpiffeIdPattern> authorized, TimeProvider? timeProvider, ILogger logger, MeshServerMetrics metrics)
    {
        _identity = identity;
        _authorized = authorized.ToArray();
        _validator = new X509SvidValidator(timeProvider);
        _logger = logger;
        _metrics = metrics;
    }

    public static ValueTask<SslServerAuthenticationOptions> OnConnectionAsync(TlsHandshakeCallbackContext context)
    {
        var self = (MeshTlsServerAuthenticator)context.State!;
        return ValueTask.FromResult(self.CreateOptions(context.Connection));
    }

    /// <summary>Options for one connection; <paramref name="connection"/> receives the peer's identity when it is accepted.</summary>
    public SslServerAuthenticationOptions CreateOptions(ConnectionContext? connection)
    {
        var identity = _identity.Current;
        var peer = new PeerValidation(this, identity, connection);
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = identity.Svid.CertificateContext,
            ClientCertificateRequired = true,
            RemoteCertificateValidationCallback = peer.Validate,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            // No resumption: every connection presents and checks SVIDs afresh.
            AllowTlsResume = false,
            CertificateChainPolicy = new X509ChainPolicy
            {
                RevocationMode = X509RevocationMode.NoCheck,
                DisableCertificateDownloads = true,
            },
        };
    }

    private sealed class PeerValidation(MeshTlsServerAuthenticator owner, MeshIdentity identity, ConnectionContext? connection)
    {
        public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors sslPolicyErrors)
        {
            var leaf = certificate as X509Certificate2 ?? (certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            var hints = ChainHints.Combine(chain?.ChainPolicy.ExtraStore, identity.Svid.Intermediates);
            var result = owner._validator.Validate(leaf, hints, identity.Bundles, owner._authorized);
            if (!result.IsValid)
            {
                owner._metrics.RecordHandshakeFailure(result.Reason, (connection?.LocalEndPoint as IPEndPoint)?.Port);
                Log.ClientRefused(owner._logger, Describe(connection?.RemoteEndPoint), Describe(connection?.LocalEndPoint), result.Reason, result.Message);
                return false;
            }

            var notAfter = new DateTimeOffset(leaf!.NotAfter.ToUniversalTime(), TimeSpan.Zero);
            connection?.Features.Set<IMeshPeerIdentityFeature>(new MeshPeerIdentityFeature(result.PeerId!, notAfter, leaf.SerialNumber));
            if (owner._logger.IsEnabled(LogLevel.Debug))
            {
                Log.ClientAccepted(owner._logger, Describe(connection?.RemoteEndPoint), Describe(connection?.LocalEndPoint), result.PeerId!);
            }

            return true;
        }

        private static string Describe(EndPoint? endPoint) => endPoint?.ToString() ?? "(unknown)";
    }
}
