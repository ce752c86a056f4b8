using System.Net.Http.Json;
using Mesh.Testing.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Storefront;

namespace Mesh.Samples.Tests;

/// <summary>The Storefront → Catalog sample end to end: two Catalog replicas and a Storefront, mTLS with SPIFFE IDs
/// from files written by the development CA, a typed HttpClient and a gRPC client through the mesh.</summary>
public sealed class StorefrontSampleTests : IDisposable
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly DirectoryInfo _certs = Directory.CreateTempSubdirectory("mesh-sample-certs-");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private Dictionary<string, string?> Identity(string service)
    {
        var files = _ca.WriteIdentityFiles(_ca.IssueSvid($"spiffe://mesh.test/{service}"), Path.Combine(_certs.FullName, service));
        return new()
        {
            ["Mesh:Identity:CertificatePath"] = files.CertificatePath,
            ["Mesh:Identity:KeyPath"] = files.KeyPath,
            ["Mesh:Identity:TrustBundlePath"] = files.TrustBundlePath,
        };
    }

    private WebApplication Catalog(string name)
    {
        var settings = Identity("catalog");
        settings["Catalog:Name"] = name;
        settings["Catalog:Port"] = "0";
        settings["Catalog:AuthorizedClients:0"] = "spiffe://mesh.test/storefront";
        return global::Catalog.CatalogApp.Build([], b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(settings);
        });
    }

    [Fact]
    public async Task Storefront_reaches_both_catalog_replicas_over_rest_and_grpc_with_mutual_tls()
    {
        await using var a = Catalog("catalog-a");
        await using var b = Catalog("catalog-b");
        await a.StartAsync(Token);
        await b.StartAsync(Token);
        var settings = Identity("storefront");
        settings["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin";
        settings["Mesh:Services:catalog:ServerIdentity"] = "spiffe://mesh.test/catalog";
        settings["Mesh:Services:catalog:Endpoints:0"] = a.Urls.Single();
        settings["Mesh:Services:catalog:Endpoints:1"] = b.Urls.Single();
        await using var storefront = StorefrontApp.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Configuration["urls"] = "http://127.0.0.1:0";
        });
        await storefront.StartAsync(Token);
        using var client = new HttpClient { BaseAddress = new Uri(storefront.Urls.Single()) };

        var pages = new List<StorefrontPage>();
        for (var i = 0; i < 6; i++)
        {
            pages.Add((await client.GetFromJsonAsync<StorefrontPage>("/", Token))!);
        }

        Assert.StartsWith("https://127.0.0.1:", a.Urls.Single(), StringComparison.Ordinal);
        Assert.All(pages, p => Assert.Equal(["kettle", "teapot", "mug"], p.Items.Select(i => i.Name)));
        Assert.All(pages, p => Assert.Equal("teapot", p.Featured));
        Assert.All(pages, p => Assert.Equal("spiffe://mesh.test/storefront", p.CatalogSawCaller));
        // REST and gRPC calls share one balancer for "catalog": round robin alternates over both replicas across them.
        var servers = pages.SelectMany(p => new[] { p.ItemsServedBy, p.FeaturedServedBy }).ToList();
        Assert.Equal(6, servers.Count(s => s == "catalog-a"));
        Assert.Equal(6, servers.Count(s => s == "catalog-b"));
        await storefront.StopAsync(Token);
        await a.StopAsync(Token);
        await b.StopAsync(Token);
    }

    public void Dispose()
    {
        _ca.Dispose();
        _certs.Delete(recursive: true);
    }
}
