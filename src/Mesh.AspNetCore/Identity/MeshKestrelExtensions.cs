using Mesh.Identity.Internal;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Identity;

/// <summary>Serves a Kestrel endpoint over mutual TLS with SPIFFE identities.</summary>
public static class MeshKestrelExtensions
{
    /// <summary>The logger category of the server's identity checks.</summary>
    public const string LoggerCategory = "Mesh.Identity.Server";

    /// <summary>
    /// Serves this endpoint over HTTPS presenting the workload's current X.509-SVID (read at each handshake, so rotation
    /// needs no restart), requires a client certificate, validates it as an X.509-SVID against the bundle of the caller's
    /// trust domain and authorizes its SPIFFE ID against <see cref="MeshServerIdentityOptions.AuthorizedClients"/>.
    /// Refused callers are logged (category <see cref="LoggerCategory"/>, warning, with the reason and both endpoints) and
    /// counted (<c>mesh.server.tls.handshake.failures</c> on the <c>Mesh</c> meter, by reason); accepted callers' IDs are
    /// available from <see cref="MeshHttpContextExtensions.GetPeerSpiffeId(Microsoft.AspNetCore.Http.HttpContext)"/> and, with
    /// <c>AddAuthentication().AddMesh()</c>, as the request's authenticated principal for per-route authorization.
    /// </summary>
    /// <param name="listenOptions">The endpoint, as given by <c>KestrelServerOptions.Listen(...)</c>.</param>
    /// <param name="configure">Sets the authorized callers (required) and, optionally, the identity source.</param>
    /// <returns>The same endpoint.</returns>
    /// <exception cref="InvalidOperationException">No caller is authorized or no identity source is available; the message says what to add.</exception>
    public static ListenOptions UseMeshIdentity(this ListenOptions listenOptions, Action<MeshServerIdentityOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new MeshServerIdentityOptions();
        configure(options);
        if (options.AuthorizedClients.Count == 0)
        {
            throw new InvalidOperationException(
                "UseMeshIdentity: MeshServerIdentityOptions.AuthorizedClients is empty, so every caller would be refused. Add at least one pattern, " +
                "for example SpiffeIdPattern.Parse(\"spiffe://mesh.test/orders\") for one service or SpiffeIdPattern.Parse(\"spiffe://mesh.test/*\") for the whole trust domain.");
        }

        var services = listenOptions.ApplicationServices;
        var identity = options.IdentitySource ?? services.GetService<IMeshIdentitySource>() ?? throw new InvalidOperationException(
            "UseMeshIdentity: no identity source. Call services.AddMeshIdentity(configuration.GetSection(\"Mesh:Identity\")) or set MeshServerIdentityOptions.IdentitySource.");
        var timeProvider = options.TimeProvider ?? services.GetService<TimeProvider>();
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger(LoggerCategory) ?? NullLogger.Instance;
        var authenticator = new MeshTlsServerAuthenticator(identity, options.AuthorizedClients, timeProvider, logger, MeshServerMetrics.For(services));

        return listenOptions.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = MeshTlsServerAuthenticator.OnConnectionAsync,
            OnConnectionState = authenticator,
            HandshakeTimeout = options.HandshakeTimeout,
        });
    }
}
