using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Mesh.Identity;
using Mesh.Identity.Internal;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Authorization.Internal;

/// <summary>
/// The mesh authentication scheme: reads the caller's SPIFFE ID that the TLS handshake proved (<see cref="IMeshPeerIdentityFeature"/>)
/// and makes it the request's principal while the caller's certificate is valid; answers challenges with 401 and forbids
/// with 403, each with a short plain-text body the caller can read, a log line and a count.
/// </summary>
internal sealed partial class MeshAuthenticationHandler : AuthenticationHandler<AuthenticationSchemeOptions>
{
    private const string Forbidden = "forbidden";
    private const string Unauthenticated = "unauthenticated";
    private const string CertificateExpired = "certificate_expired";

    private readonly ILogger _log;
    private readonly MeshServerMetrics _metrics;

    public MeshAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, MeshServerMetrics metrics)
        : base(options, logger, encoder)
    {
        _log = logger.CreateLogger(MeshAuthenticationDefaults.LoggerCategory);
        _metrics = metrics;
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var peer = Context.Features.Get<IMeshPeerIdentityFeature>();
        if (peer is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult()); // not a mesh mTLS connection
        }

        if (Expired(peer) is { } notAfter)
        {
            return Task.FromResult(AuthenticateResult.Fail(string.Create(CultureInfo.InvariantCulture,
                $"The certificate of {peer.PeerId} expired at {notAfter:u}; the connection outlived it.")));
        }

        var issuer = $"spiffe://{peer.PeerId.TrustDomain}";
        var id = peer.PeerId.ToString();
        var identity = new ClaimsIdentity(
            [
                new Claim(MeshClaimTypes.SpiffeId, id, ClaimValueTypes.String, issuer),
                new Claim(MeshClaimTypes.TrustDomain, peer.PeerId.TrustDomain, ClaimValueTypes.String, issuer),
                new Claim(ClaimTypes.NameIdentifier, id, ClaimValueTypes.String, issuer),
                new Claim(ClaimTypes.Name, id, ClaimValueTypes.String, issuer),
            ],
            MeshAuthenticationDefaults.AuthenticationScheme, ClaimTypes.Name, ClaimTypes.Role);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var peer = Context.Features.Get<IMeshPeerIdentityFeature>();
        string denial, reason;
        if (peer is null)
        {
            denial = Unauthenticated;
            reason = "the request did not arrive over a mesh mutual-TLS connection (an endpoint configured with UseMeshIdentity)";
        }
        else if (Expired(peer) is { } notAfter)
        {
            denial = CertificateExpired;
            reason = string.Create(CultureInfo.InvariantCulture,
                $"the certificate of {peer.PeerId} (serial {(peer as MeshPeerIdentityFeature)?.Serial}) expired at {notAfter:u} while its connection stayed open; reconnect with the renewed certificate");
        }
        else
        {
            // Authenticated by the mesh, yet challenged: the policy asked for another scheme's authentication too.
            denial = Unauthenticated;
            reason = $"{peer.PeerId} is authenticated by the mesh, but the endpoint's policy requires another authentication";
        }

        var route = Route();
        _metrics.RecordDenial(denial, peer?.PeerId, route.Template);
        Log.Unauthenticated(_log, Request.Method, route.Text, Remote(), reason);
        await WriteAsync(StatusCodes.Status401Unauthorized, $"401 Unauthorized: {reason}.").ConfigureAwait(false);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var peer = Context.Features.Get<IMeshPeerIdentityFeature>()?.PeerId ?? Context.User.GetSpiffeId();
        var route = Route();
        var reason = AuthorizationNotes.GetFailure(Context) ?? "the endpoint's authorization policy is not satisfied.";
        _metrics.RecordDenial(Forbidden, peer, route.Template);
        Log.Forbidden(_log, Request.Method, route.Text, peer?.ToString() ?? "(no SPIFFE ID)", Remote(), reason);
        // The caller learns who it was taken for and what it asked for; the accepted identities stay in the server's log.
        await WriteAsync(StatusCodes.Status403Forbidden,
            $"403 Forbidden: {peer?.ToString() ?? "the caller"} is not authorized for {Request.Method} {route.Text}.").ConfigureAwait(false);
    }

    private DateTimeOffset? Expired(IMeshPeerIdentityFeature peer) =>
        peer is MeshPeerIdentityFeature { NotAfter: var notAfter } && TimeProvider.GetUtcNow() >= notAfter ? notAfter : null;

    private (string? Template, string Text) Route()
    {
        var template = (Context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
        return (template, template ?? Request.Path.ToString());
    }

    private string Remote() => Context.Connection.RemoteIpAddress is { } address
        ? string.Create(CultureInfo.InvariantCulture, $"{(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address)}:{Context.Connection.RemotePort}")
        : "(unknown)";

    private async Task WriteAsync(int status, string text)
    {
        Response.StatusCode = status;
        if (Response.HasStarted)
        {
            return;
        }

        Response.ContentType = "text/plain; charset=utf-8";
        await Response.WriteAsync(text + "\n", Context.RequestAborted).ConfigureAwait(false);
    }
}
