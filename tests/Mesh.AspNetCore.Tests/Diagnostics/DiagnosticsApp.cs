using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Diagnostics;

/// <summary>A fresh ASP.NET Core app per scenario (<c>WebApplication.CreateBuilder</c>), on 127.0.0.1 with a dynamic
/// port, that uses the mesh and maps its diagnostics the way docs/diagnostics.md says.</summary>
internal sealed class DiagnosticsApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DiagnosticsApp(WebApplication app)
    {
        _app = app;
        Address = new Uri(app.Urls.First());
        Http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The app's address (http://127.0.0.1:port).</summary>
    public Uri Address { get; }

    /// <summary>A plain client for the app's own endpoints (a loopback caller).</summary>
    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    /// <param name="configure">The mesh and anything else the scenario registers.</param>
    /// <param name="map">Maps the endpoints; default: <c>app.MapMeshDiagnostics()</c>.</param>
    /// <param name="settings">Configuration keys (for example <c>Mesh:Services:catalog:Endpoints:0:Address</c>).</param>
    public static async Task<DiagnosticsApp> StartAsync(Action<WebApplicationBuilder> configure, Action<WebApplication>? map = null,
        IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        configure(builder);
        var app = builder.Build();
        if (map is null)
        {
            app.MapMeshDiagnostics();
        }
        else
        {
            map(app);
        }

        await app.StartAsync(TestContext.Current.CancellationToken);
        return new DiagnosticsApp(app);
    }

    /// <summary>A mesh client of the app (its named client <paramref name="name"/>).</summary>
    public HttpClient MeshClient(string name = "catalog") => Services.GetRequiredService<IHttpClientFactory>().CreateClient(name);

    /// <summary>GETs the diagnostics document.</summary>
    public async Task<JsonElement> GetDocumentAsync(string path = "/mesh")
    {
        using var response = await Http.GetAsync(path, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    /// <summary>Polls the document (bounded) until <paramref name="condition"/> holds; returns that document.</summary>
    public async Task<JsonElement> WaitForDocumentAsync(Func<JsonElement, bool> condition, string what, TimeSpan? timeout = null, Func<Task>? between = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        JsonElement document;
        do
        {
            document = await GetDocumentAsync();
            if (condition(document))
            {
                return document;
            }

            if (between is not null)
            {
                await between();
            }
            else
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
        }
        while (DateTime.UtcNow < deadline);

        throw new TimeoutException($"The diagnostics document did not show {what} in time; last document:\n{document}");
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}

/// <summary>Reading the document in tests.</summary>
internal static class DiagnosticsJson
{
    public static string[] Names(this JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name)];

    public static JsonElement Service(this JsonElement document, string name) =>
        document.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);

    public static JsonElement Endpoint(this JsonElement service, Uri address) =>
        service.GetProperty("endpoints").EnumerateArray().Single(e => e.GetProperty("address").GetString() == new MeshEndpoint(address).Key);

    public static string? State(this JsonElement document, string service, Uri address) =>
        document.Service(service).Endpoint(address).GetProperty("state").GetString();

    public static IEnumerable<JsonElement> Events(this JsonElement document, string kind) =>
        document.GetProperty("events").EnumerateArray().Where(e => e.GetProperty("kind").GetString() == kind);
}
