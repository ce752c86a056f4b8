using System.Net;
using System.Security.Claims;
using Mesh.AspNetCore.Tests.TestSupport;
using Mesh.Authorization;
using Mesh.Identity;
using Mesh.Testing.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Authorization;

/// <summary>The per-route authorization sample of docs/identity.md (section 3), as written there — identity files from
/// <c>Mesh:Identity</c>, the listener open to the trust domain, routes that narrow it — with a dynamic port on 127.0.0.1
/// instead of 5001, called by workloads through the mesh client.</summary>
public sealed class IdentityDocsSampleTests : IAsyncLifetime
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly string _directory = Directory.CreateTempSubdirectory("mesh-docs-sample-").FullName;
    private WebApplication? _app;
    private Uri? _address;

    public async ValueTask InitializeAsync()
    {
        var files = _ca.WriteIdentityFiles(_ca.IssueSvid("spiffe://mesh.test/catalog"), _directory);
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Identity:CertificatePath"] = files.CertificatePath,
            ["Mesh:Identity:KeyPath"] = files.KeyPath,
            ["Mesh:Identity:TrustBundlePath"] = files.TrustBundlePath,
        });

        // --- docs/identity.md, "Per-route authorization" ---
        builder.Services.AddMeshIdentity(builder.Configuration.GetSection("Mesh:Identity"));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseMeshIdentity(options =>
            options.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.test/*")))));     // the gate: the trust domain
        builder.Services.AddAuthentication(MeshAuthenticationDefaults.AuthenticationScheme).AddMesh();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy("ops", policy => policy.RequireSpiffeId("spiffe://mesh.test/ops/*"));

        var app = builder.Build();
        app.MapGet("/items", () => "items")
            .RequireSpiffeId("spiffe://mesh.test/storefront", "spiffe://mesh.test/ns/shop/*");   // narrows the gate
        app.MapPost("/admin/reindex", () => Results.Accepted()).RequireAuthorization("ops");
        app.MapGet("/report", [AuthorizeSpiffeId("spiffe://mesh.test/ops/console")] () => "report");
        app.MapGet("/whoami", (ClaimsPrincipal user) => $"hello {user.GetSpiffeId()}").RequireAuthorization();
        app.MapGet("/healthz", () => "healthy");                                                 // no policy: the gate only
        // --- end of the sample ---

        await app.StartAsync(TestContext.Current.CancellationToken);
        _app = app;
        _address = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _ca.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private MeshCaller Caller(string spiffeId) => new(_ca.CreateIdentitySource(spiffeId), _address!);

    [Fact]
    public async Task The_storefront_reads_items_and_is_forbidden_the_admin_route()
    {
        await using var storefront = Caller("spiffe://mesh.test/storefront");

        Assert.Equal((200, "items"), await storefront.GetAsync("/items"));
        Assert.Equal((403, "403 Forbidden: spiffe://mesh.test/storefront is not authorized for POST /admin/reindex.\n"),
            await storefront.SendAsync(HttpMethod.Post, "/admin/reindex"));
        Assert.Equal((200, "hello spiffe://mesh.test/storefront"), await storefront.GetAsync("/whoami"));
    }

    [Fact]
    public async Task Ops_workloads_reach_the_admin_route_and_only_the_console_the_report()
    {
        await using var console = Caller("spiffe://mesh.test/ops/console");
        await using var debugger = Caller("spiffe://mesh.test/ops/debugger");

        Assert.Equal(202, (await console.SendAsync(HttpMethod.Post, "/admin/reindex")).Status);
        Assert.Equal(202, (await debugger.SendAsync(HttpMethod.Post, "/admin/reindex")).Status);
        Assert.Equal((200, "report"), await console.GetAsync("/report"));
        Assert.Equal(403, (await debugger.GetAsync("/report")).Status);
        Assert.Equal(403, (await console.GetAsync("/items")).Status);
    }

    [Fact]
    public async Task Any_workload_of_the_trust_domain_reaches_a_route_without_a_policy()
    {
        await using var reports = Caller("spiffe://mesh.test/reports");

        Assert.Equal((200, "healthy"), await reports.GetAsync("/healthz"));
    }

    [Fact]
    public async Task A_workload_of_another_trust_domain_is_refused_at_the_gate()
    {
        using var partnerCa = DevelopmentCertificateAuthority.Create("partner.test");
        var bundles = partnerCa.Bundle.With("mesh.test", [_ca.RootCertificate]);
        await using var partner = new MeshCaller(new MeshInMemoryIdentitySource(partnerCa.IssueSvid("spiffe://partner.test/auditor"), bundles), _address!);

        await Assert.ThrowsAsync<HttpRequestException>(() => partner.GetAsync("/healthz"));
    }
}
