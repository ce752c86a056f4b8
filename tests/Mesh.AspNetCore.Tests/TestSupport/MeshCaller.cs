using Mesh.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.TestSupport;

/// <summary>A workload calling the server through the mesh client, configured the way docs/identity.md says: its identity
/// registered with <c>AddMeshIdentity</c>, the server's replica under <c>Mesh:Services:catalog</c> with its
/// <c>ServerIdentity</c>, and a named client with <c>AddMeshHandler()</c>. Real mTLS handshakes, real HTTP.</summary>
internal sealed class MeshCaller : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public MeshCaller(IMeshIdentitySource identity, Uri server, string serverIdentity = "spiffe://mesh.test/catalog", Action<MeshServiceOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddMeshIdentity(identity);
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { ServerIdentity = serverIdentity };
            catalog.Endpoints.Add(new MeshEndpointOptions { Address = server.ToString() });
            configure?.Invoke(catalog);
            o.Services["catalog"] = catalog;
        });
        services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        _services = services.BuildServiceProvider();
        Client = _services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
    }

    public HttpClient Client { get; }

    public IServiceProvider Services => _services;

    public async Task<(int Status, string Body)> SendAsync(HttpMethod method, string path)
    {
        using var request = new HttpRequestMessage(method, path);
        using var response = await Client.SendAsync(request, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    public Task<(int Status, string Body)> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
