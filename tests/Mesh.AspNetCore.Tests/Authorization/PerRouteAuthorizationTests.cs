using System.Diagnostics.Metrics;
using System.Security.Claims;
using Mesh.AspNetCore.Tests.TestSupport;
using Mesh.Authorization;
using Mesh.Identity;
using Mesh.Testing.Identity;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Authorization;

/// <summary>
/// Per-route authorization by SPIFFE ID (issue #23, item 2): the listener lets the whole trust domain through the handshake,
/// routes narrow it with <c>RequireSpiffeId</c>, named policies, <c>[Authorize(Policy = ...)]</c> and
/// <c>[AuthorizeSpiffeId]</c>. Real Kestrel servers with <c>UseMeshIdentity</c>, real mTLS handshakes from the mesh client,
/// SVIDs from the development CA.
/// </summary>
public sealed class PerRouteAuthorizationTests : IDisposable
{
    private const string Catalog = "spiffe://mesh.test/catalog";
    private const string Storefront = "spiffe://mesh.test/storefront";
    private const string Cart = "spiffe://mesh.test/ns/shop/cart";
    private const string Console = "spiffe://mesh.test/ops/console";
    private const string Debugger = "spiffe://mesh.test/ops/debugger";
    private const string Reports = "spiffe://mesh.test/reports";

    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");

    public void Dispose() => _ca.Dispose();

    /// <summary>The setup docs/identity.md shows: the mesh scheme as the default, a named policy, routes that narrow the listener.</summary>
    private static void AddMeshAuthorization(WebApplicationBuilder builder)
    {
        builder.Services.AddAuthentication(MeshAuthenticationDefaults.AuthenticationScheme).AddMesh();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy("ops", policy => policy.RequireSpiffeId("spiffe://mesh.test/ops/*"));
    }

    private static void MapShop(WebApplication app)
    {
        app.MapGet("/items", (HttpContext context) => $"items for {context.GetPeerSpiffeId()}")
            .RequireSpiffeId(Storefront, "spiffe://mesh.test/ns/shop/*");
        app.MapPost("/admin/reindex", () => "reindexing").RequireAuthorization("ops");
        app.MapGet("/report", [Authorize(Policy = "ops")] () => "report");
        app.MapGet("/console", [AuthorizeSpiffeId(Console)] () => "console");
        app.MapGet("/me", (ClaimsPrincipal user) => string.Join('|',
            user.GetSpiffeId()?.ToString() ?? "-",
            user.Identity?.Name ?? "-",
            user.Identity?.AuthenticationType ?? "-",
            user.FindFirst(MeshClaimTypes.TrustDomain)?.Value ?? "-",
            user.FindFirst(ClaimTypes.NameIdentifier)?.Issuer ?? "-")).RequireAuthorization();
        app.MapGet("/healthz", () => "healthy");
    }

    private Task<MeshServer> StartShopAsync(bool plainListener = false) =>
        MeshServer.StartAsync(_ca.CreateIdentitySource(Catalog), ["spiffe://mesh.test/*"], AddMeshAuthorization, MapShop, plainListener);

    private MeshCaller Caller(string spiffeId, MeshServer server) => new(_ca.CreateIdentitySource(spiffeId), server.Address);

    [Fact]
    public async Task A_route_answers_the_callers_its_spiffe_id_requirement_names()
    {
        await using var server = await StartShopAsync();
        await using var storefront = Caller(Storefront, server);
        await using var cart = Caller(Cart, server);

        Assert.Equal((200, $"items for {Storefront}"), await storefront.GetAsync("/items"));
        Assert.Equal((200, $"items for {Cart}"), await cart.GetAsync("/items"));
    }

    [Fact]
    public async Task An_authenticated_caller_without_the_permission_gets_a_403_it_can_read()
    {
        await using var server = await StartShopAsync();
        await using var storefront = Caller(Storefront, server);

        var (status, body) = await storefront.SendAsync(HttpMethod.Post, "/admin/reindex");

        Assert.Equal(403, status);
        Assert.Equal($"403 Forbidden: {Storefront} is not authorized for POST /admin/reindex.\n", body);
    }

    [Fact]
    public async Task The_mesh_client_sees_a_403_as_an_http_error_not_as_a_connection_failure()
    {
        await using var server = await StartShopAsync();
        await using var storefront = Caller(Storefront, server);

        using var response = await storefront.Client.PostAsync("/admin/reindex", null, TestContext.Current.CancellationToken);
        var error = Assert.Throws<HttpRequestException>(() => response.EnsureSuccessStatusCode());

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, error.StatusCode);
        Assert.Equal(HttpRequestError.Unknown, error.HttpRequestError); // an answer, not a transport failure
        Assert.Equal((200, $"items for {Storefront}"), await storefront.GetAsync("/items")); // the same connection still serves
    }

    [Fact]
    public async Task Forbidden_answers_neither_eject_the_endpoint_nor_are_retried()
    {
        // A 403 is the server's answer, not a sick endpoint: with outlier detection at its most sensitive, the endpoint stays.
        var requests = 0;
        await using var server = await MeshServer.StartAsync(_ca.CreateIdentitySource(Catalog), ["spiffe://mesh.test/*"], AddMeshAuthorization, app =>
        {
            app.Use((context, next) =>
            {
                Interlocked.Increment(ref requests);
                return next(context);
            });
            app.UseAuthentication(); // after the counter (WebApplication would otherwise put them first)
            app.UseAuthorization();
            MapShop(app);
        });
        await using var reports = new MeshCaller(_ca.CreateIdentitySource(Reports), server.Address, configure: o => o.OutlierDetection.ConsecutiveFailures = 1);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(403, (await reports.SendAsync(HttpMethod.Post, "/admin/reindex")).Status);
        }

        Assert.Equal(3, requests);
        Assert.Equal(MeshEndpointHealth.Healthy, Assert.Single(reports.Services.GetRequiredService<MeshMonitor>().GetService("catalog").Endpoints).Health);
        Assert.Equal(200, (await reports.GetAsync("/healthz")).Status);
    }

    [Fact]
    public async Task A_named_policy_admits_its_callers_and_forbids_the_others_on_the_same_listener()
    {
        await using var server = await StartShopAsync();
        await using var console = Caller(Console, server);
        await using var storefront = Caller(Storefront, server);

        Assert.Equal(200, (await console.SendAsync(HttpMethod.Post, "/admin/reindex")).Status);
        Assert.Equal(403, (await console.GetAsync("/items")).Status);
        Assert.Equal(403, (await storefront.SendAsync(HttpMethod.Post, "/admin/reindex")).Status);
        Assert.Equal(200, (await storefront.GetAsync("/items")).Status);
    }

    [Fact]
    public async Task Authorize_attributes_with_a_policy_or_spiffe_ids_work_on_minimal_api_handlers()
    {
        await using var server = await StartShopAsync();
        await using var console = Caller(Console, server);
        await using var debugger = Caller(Debugger, server);
        await using var storefront = Caller(Storefront, server);

        Assert.Equal((200, "report"), await debugger.GetAsync("/report"));
        Assert.Equal(403, (await storefront.GetAsync("/report")).Status);
        Assert.Equal((200, "console"), await console.GetAsync("/console"));
        Assert.Equal(403, (await debugger.GetAsync("/console")).Status);
    }

    [Fact]
    public async Task Authorize_attributes_on_a_controller_and_its_actions_must_all_be_satisfied()
    {
        await using var server = await MeshServer.StartAsync(_ca.CreateIdentitySource(Catalog), ["spiffe://mesh.test/*"],
            builder =>
            {
                AddMeshAuthorization(builder);
                builder.Services.AddControllers().AddApplicationPart(typeof(InventoryController).Assembly);
            },
            app => app.MapControllers());
        await using var storefront = Caller(Storefront, server);
        await using var console = Caller(Console, server);
        await using var debugger = Caller(Debugger, server);

        Assert.Equal((200, $"inventory for {Storefront}"), await storefront.GetAsync("/inventory"));
        Assert.Equal(403, (await storefront.SendAsync(HttpMethod.Post, "/inventory/recount")).Status);
        Assert.Equal((200, $"recount started by {Debugger}"), await debugger.SendAsync(HttpMethod.Post, "/inventory/recount"));
        Assert.Equal(403, (await debugger.SendAsync(HttpMethod.Delete, "/inventory/7")).Status);
        Assert.Equal((200, "deleted 7"), await console.SendAsync(HttpMethod.Delete, "/inventory/7"));
    }

    [Fact]
    public async Task Controller_level_attribute_applies_to_every_action()
    {
        // The listener also accepts other.test; the controller's [AuthorizeSpiffeId("spiffe://mesh.test/*")] does not.
        using var partnerCa = DevelopmentCertificateAuthority.Create("other.test");
        var bundles = _ca.Bundle.With("other.test", [partnerCa.RootCertificate]);
        await using var server = await MeshServer.StartAsync(new MeshInMemoryIdentitySource(_ca.IssueSvid(Catalog), bundles), ["spiffe://mesh.test/*", "spiffe://other.test/*"],
            builder =>
            {
                AddMeshAuthorization(builder);
                builder.Services.AddControllers().AddApplicationPart(typeof(InventoryController).Assembly);
            },
            app =>
            {
                app.MapControllers();
                app.MapGet("/open", () => "open");
            });
        await using var partner = new MeshCaller(new MeshInMemoryIdentitySource(partnerCa.IssueSvid("spiffe://other.test/auditor"), partnerCa.Bundle.With("mesh.test", [_ca.RootCertificate])), server.Address);

        Assert.Equal((200, "open"), await partner.GetAsync("/open"));
        Assert.Equal(403, (await partner.GetAsync("/inventory")).Status);
    }

    [Fact]
    public async Task The_principal_is_the_callers_spiffe_id_issued_by_its_trust_domain()
    {
        await using var server = await StartShopAsync();
        await using var storefront = Caller(Storefront, server);

        var (status, body) = await storefront.GetAsync("/me");

        Assert.Equal(200, status);
        Assert.Equal($"{Storefront}|{Storefront}|Mesh|mesh.test|spiffe://mesh.test", body);
    }

    [Fact]
    public async Task A_route_policy_cannot_widen_what_the_listener_accepts()
    {
        // The listener admits only the storefront; /admin/reindex allows ops/*, but the console never gets past the handshake.
        await using var server = await MeshServer.StartAsync(_ca.CreateIdentitySource(Catalog), [Storefront], AddMeshAuthorization, MapShop);
        await using var console = Caller(Console, server);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => console.SendAsync(HttpMethod.Post, "/admin/reindex"));

        Assert.Null(error.StatusCode);
        var refusal = await server.WaitForLogAsync("PeerRefused");
        Assert.Equal(nameof(X509SvidFailureReason.NotAuthorized), refusal.GetStructuredStateValue("Reason"));
        Assert.DoesNotContain(server.Logs.GetSnapshot(), r => r.Id.Name == "PeerForbidden");
    }

    [Fact]
    public async Task A_certificate_from_another_ca_is_still_refused_at_the_handshake_and_counted()
    {
        using var otherCa = DevelopmentCertificateAuthority.Create("mesh.test");
        await using var server = await StartShopAsync();
        using var handshakes = new MetricCollector<long>(server.Services.GetRequiredService<IMeterFactory>(), MeshTelemetry.Name, "mesh.server.tls.handshake.failures");
        using var denials = new MetricCollector<long>(server.Services.GetRequiredService<IMeterFactory>(), MeshTelemetry.Name, "mesh.server.authorization.denials");
        // The forger trusts the mesh's CA (so it accepts the server) but holds a certificate of its own CA for a mesh ID.
        var forgerBundles = X509BundleSet.Create("mesh.test", [_ca.RootCertificate, otherCa.RootCertificate]);
        await using var forger = new MeshCaller(new MeshInMemoryIdentitySource(otherCa.IssueSvid(Storefront), forgerBundles), server.Address);

        await Assert.ThrowsAsync<HttpRequestException>(() => forger.GetAsync("/items"));

        await handshakes.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(10));
        Assert.All(handshakes.GetMeasurementSnapshot(), refused =>
        {
            Assert.Equal(nameof(X509SvidFailureReason.UntrustedIssuer), refused.Tags[MeshTelemetry.Attributes.TlsFailureReason]);
            Assert.Equal(server.Address.Port, refused.Tags[MeshTelemetry.Attributes.ServerPort]);
        });
        Assert.Empty(denials.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task A_403_is_logged_and_counted_with_the_caller_and_the_route()
    {
        await using var server = await StartShopAsync();
        using var denials = new MetricCollector<long>(server.Services.GetRequiredService<IMeterFactory>(), MeshTelemetry.Name, "mesh.server.authorization.denials");
        await using var reports = Caller(Reports, server);

        Assert.Equal(403, (await reports.GetAsync("/items")).Status);

        var denial = Assert.Single(denials.GetMeasurementSnapshot());
        Assert.Equal("forbidden", denial.Tags[MeshTelemetry.Attributes.ErrorType]);
        Assert.Equal(Reports, denial.Tags[MeshTelemetry.Attributes.PeerSpiffeId]);
        Assert.Equal("/items", denial.Tags["http.route"]);
        var log = Assert.Single(server.Logs.GetSnapshot(), r => r.Id.Name == "PeerForbidden");
        Assert.Equal(LogLevel.Warning, log.Level);
        Assert.Equal(MeshAuthenticationDefaults.LoggerCategory, log.Category);
        Assert.Equal(Reports, log.GetStructuredStateValue("SpiffeId"));
        Assert.Equal("GET", log.GetStructuredStateValue("Method"));
        Assert.Equal("/items", log.GetStructuredStateValue("Route"));
        Assert.Contains($"accepted: {Storefront}, spiffe://mesh.test/ns/shop/*", log.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_protected_route_reached_over_a_listener_without_mesh_identity_answers_401()
    {
        // A plain-http port (a health port, say) serves the same endpoints: routes without a policy answer there,
        // routes that require a SPIFFE ID do not.
        await using var server = await StartShopAsync(plainListener: true);
        using var denials = new MetricCollector<long>(server.Services.GetRequiredService<IMeterFactory>(), MeshTelemetry.Name, "mesh.server.authorization.denials");
        using var plain = new HttpClient { BaseAddress = server.PlainAddress };

        using var health = await plain.GetAsync("/healthz", TestContext.Current.CancellationToken);
        using var items = await plain.GetAsync("/items", TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, items.StatusCode);
        Assert.StartsWith("401 Unauthorized: the request did not arrive over a mesh mutual-TLS connection", await items.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        var denial = Assert.Single(denials.GetMeasurementSnapshot());
        Assert.Equal("unauthenticated", denial.Tags[MeshTelemetry.Attributes.ErrorType]);
        Assert.False(denial.Tags.ContainsKey(MeshTelemetry.Attributes.PeerSpiffeId));
        Assert.Equal(LogLevel.Warning, Assert.Single(server.Logs.GetSnapshot(), r => r.Id.Name == "PeerUnauthenticated").Level);
    }

    [Fact]
    public async Task A_connection_that_outlives_the_callers_certificate_is_refused_with_401()
    {
        // The handshake checked the certificate; a connection kept open past its expiry must not keep the caller's rights.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await MeshServer.StartAsync(_ca.CreateIdentitySource(Catalog), ["spiffe://mesh.test/*"],
            builder =>
            {
                builder.Services.AddAuthentication(MeshAuthenticationDefaults.AuthenticationScheme).AddMesh(o => o.TimeProvider = clock);
                builder.Services.AddAuthorization();
            },
            app =>
            {
                app.MapGet("/items", () => "items").RequireSpiffeId(Storefront);
                app.MapGet("/open", (HttpContext context) => $"open to {context.GetPeerSpiffeId()}");
            },
            configureListener: o => o.TimeProvider = clock);
        using var denials = new MetricCollector<long>(server.Services.GetRequiredService<IMeterFactory>(), MeshTelemetry.Name, "mesh.server.authorization.denials");
        await using var storefront = new MeshCaller(new MeshInMemoryIdentitySource(_ca.IssueSvid(Storefront, TimeSpan.FromMinutes(30)), _ca.Bundle), server.Address);
        Assert.Equal((200, "items"), await storefront.GetAsync("/items"));

        clock.Advance(TimeSpan.FromHours(1));
        var (status, body) = await storefront.GetAsync("/items");

        Assert.Equal(401, status);
        Assert.Contains($"the certificate of {Storefront}", body, StringComparison.Ordinal);
        Assert.Contains("expired", body, StringComparison.Ordinal);
        Assert.Equal("certificate_expired", Assert.Single(denials.GetMeasurementSnapshot()).Tags[MeshTelemetry.Attributes.ErrorType]);
        // Not a new connection: the handshake would have refused it (Expired) and no request would have been answered.
        Assert.DoesNotContain(server.Logs.GetSnapshot(), r => r.Id.Name == "PeerRefused");
        // What the scheme does not do: a route without a policy is not checked again on that connection.
        Assert.Equal((200, $"open to {Storefront}"), await storefront.GetAsync("/open"));
    }

    [Fact]
    public async Task A_fallback_policy_protects_every_route_that_has_none_of_its_own()
    {
        await using var server = await MeshServer.StartAsync(_ca.CreateIdentitySource(Catalog), ["spiffe://mesh.test/*"],
            builder =>
            {
                builder.Services.AddAuthentication(MeshAuthenticationDefaults.AuthenticationScheme).AddMesh();
                builder.Services.AddAuthorizationBuilder()
                    .AddFallbackPolicy("mesh-default", policy => policy.RequireSpiffeId(Storefront));
            },
            app =>
            {
                app.MapGet("/unlisted", () => "unlisted");
                app.MapGet("/ops", () => "ops").RequireSpiffeId(Console);
            });
        await using var storefront = Caller(Storefront, server);
        await using var console = Caller(Console, server);

        Assert.Equal((200, "unlisted"), await storefront.GetAsync("/unlisted"));
        Assert.Equal(403, (await console.GetAsync("/unlisted")).Status);
        Assert.Equal((200, "ops"), await console.GetAsync("/ops")); // a route's own policy replaces the fallback
        Assert.Equal(403, (await storefront.GetAsync("/ops")).Status);
    }

    [Fact]
    public async Task A_bad_pattern_fails_when_the_route_is_mapped_naming_the_problem()
    {
        var builder = WebApplication.CreateBuilder();
        await using var app = builder.Build();

        var error = Assert.Throws<SpiffeIdFormatException>(() => app.MapGet("/x", () => "x").RequireSpiffeId("spiffe://Mesh.test/orders"));

        Assert.Contains("spiffe://Mesh.test/orders", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Claims_of_another_scheme_never_count_as_a_spiffe_id()
    {
        // A bearer token that carries a spiffe_id claim is not a proven mesh identity.
        var bearer = new ClaimsPrincipal(new ClaimsIdentity([new Claim(MeshClaimTypes.SpiffeId, Console)], "Bearer"));
        var requirement = new SpiffeIdAuthorizationRequirement([SpiffeIdPattern.Parse("spiffe://mesh.test/ops/*")]);
        var context = new AuthorizationHandlerContext([requirement], bearer, resource: null);

        await ((IAuthorizationHandler)requirement).HandleAsync(context);

        Assert.Null(bearer.GetSpiffeId());
        Assert.False(context.HasSucceeded);
        Assert.Contains("no SPIFFE ID authenticated by the mesh scheme", Assert.Single(context.FailureReasons).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_requirement_without_patterns_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new SpiffeIdAuthorizationRequirement([]));
    }
}
