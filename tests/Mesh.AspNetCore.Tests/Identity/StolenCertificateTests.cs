using Mesh.AspNetCore.Tests.TestSupport;
using Mesh.Authorization;
using Mesh.Identity;
using Mesh.Testing.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>docs/security.md, "a stolen certificate before expiry": a copy of a workload's SVID files works for whoever
/// holds it, with exactly that workload's rights, until the certificate expires — no revocation list is consulted — and
/// not a moment longer, on new connections or old ones.</summary>
public sealed class StolenCertificateTests : IDisposable
{
    private const string Storefront = "spiffe://mesh.test/storefront";

    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly string _stolen = Directory.CreateTempSubdirectory("mesh-stolen-").FullName;
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private MeshIdentityOptions? _files;

    public void Dispose()
    {
        _ca.Dispose();
        try
        {
            Directory.Delete(_stolen, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private Task<MeshServer> StartServerAsync() =>
        MeshServer.StartAsync(_ca.CreateIdentitySource("spiffe://mesh.test/catalog"), ["spiffe://mesh.test/*"],
            builder =>
            {
                builder.Services.AddAuthentication(MeshAuthenticationDefaults.AuthenticationScheme).AddMesh(o => o.TimeProvider = _clock);
                builder.Services.AddAuthorization();
            },
            app =>
            {
                app.MapGet("/items", (HttpContext context) => $"items for {context.GetPeerSpiffeId()}").RequireSpiffeId(Storefront);
                app.MapPost("/admin/reindex", () => "reindexing").RequireSpiffeId("spiffe://mesh.test/ops/*");
            },
            configureListener: o => o.TimeProvider = _clock);

    /// <summary>The thief's client: the storefront's files, copied elsewhere, loaded like any workload loads its identity.</summary>
    private MeshCaller Thief(MeshServer server)
    {
        _files ??= _ca.WriteIdentityFiles(_ca.IssueSvid(Storefront, TimeSpan.FromMinutes(30)), _stolen);
        using var source = new MeshFileIdentitySource(_files);
        return new MeshCaller(new MeshInMemoryIdentitySource(source.Current), server.Address);
    }

    [Fact]
    public async Task A_copy_of_a_workloads_svid_and_key_has_that_workloads_rights_and_no_others()
    {
        await using var server = await StartServerAsync();
        await using var thief = Thief(server);

        Assert.Equal((200, $"items for {Storefront}"), await thief.GetAsync("/items"));
        Assert.Equal(403, (await thief.SendAsync(HttpMethod.Post, "/admin/reindex")).Status);
    }

    [Fact]
    public async Task A_stolen_certificate_stops_working_when_it_expires_on_new_and_open_connections()
    {
        await using var server = await StartServerAsync();
        await using var open = Thief(server);
        Assert.Equal(200, (await open.GetAsync("/items")).Status);

        _clock.Advance(TimeSpan.FromMinutes(31));

        Assert.Equal(401, (await open.GetAsync("/items")).Status);
        await using var fresh = Thief(server);
        await Assert.ThrowsAsync<HttpRequestException>(() => fresh.GetAsync("/items"));
        var refusal = await server.WaitForLogAsync("PeerRefused");
        Assert.Equal(nameof(X509SvidFailureReason.Expired), refusal.GetStructuredStateValue("Reason"));
    }
}
