using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Docs.Tests.Snippets;
using Mesh.Testing;
using Mesh.Tests.Shared;

namespace Mesh.Docs.Tests;

/// <summary>
/// docs/getting-started.md, run as a reader would: its configuration (section 2) in appsettings.json, its programs
/// unchanged, two real replicas behind them. The endpoint addresses are the only change, made the way configuration.md
/// documents (command-line overrides of the endpoint list), since the replicas listen on free ports.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class GettingStartedWalkthroughTests : IAsyncLifetime
{
    private readonly string _contentRoot = Directory.CreateTempSubdirectory("mesh-getting-started-").FullName;
    private InProcessReplica? _first;
    private InProcessReplica? _second;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _first = await InProcessReplica.StartAsync("catalog-1", cancellationToken: Token);
        _second = await InProcessReplica.StartAsync("catalog-2", cancellationToken: Token);
        File.WriteAllText(Path.Combine(_contentRoot, "appsettings.json"), MarkdownSnippets.NamedBlock("docs/getting-started.md", "getting-started-config"));
    }

    [Fact]
    public async Task The_whole_app_serves_items_from_both_replicas_reports_healthy_and_lists_the_endpoints_by_name()
    {
        await using var app = await DocProgram.StartAsync(Compile("getting-started-whole-app"), Arguments(web: true), Token);
        using var http = new HttpClient { BaseAddress = app.Address, Timeout = TimeSpan.FromSeconds(30) };

        var servedBy = await GetItemsAsync(http, requests: 60);
        var health = await http.GetStringAsync("/healthz", Token);
        using var mesh = JsonDocument.Parse(await http.GetStringAsync("/mesh", Token));

        Assert.True(servedBy.ContainsKey("catalog-1") && servedBy.ContainsKey("catalog-2"),
            $"Both endpoints of the configuration should get traffic; served by: {string.Join(", ", servedBy.Select(p => $"{p.Key} {p.Value}"))}");
        Assert.Equal("Healthy", health);
        var catalog = Assert.Single(mesh.RootElement.EnumerateArray());
        Assert.Equal("catalog", catalog.GetProperty("name").GetString());
        Assert.Equal("PeakEwma", catalog.GetProperty("loadBalancer").ToString());
        var endpoints = catalog.GetProperty("endpoints").EnumerateArray().ToList();
        Assert.Equal(2, endpoints.Count);
        Assert.All(endpoints, e =>
        {
            var state = e.GetProperty("health");
            Assert.True(state.ValueKind == JsonValueKind.String, $"/mesh should name each endpoint's health, not number it: {e}");
            Assert.True(Enum.TryParse<MeshEndpointHealth>(state.GetString(), out _), $"'{state}' is not a MeshEndpointHealth name");
        });
    }

    [Fact]
    public async Task The_typed_client_app_of_section_3_reaches_both_replicas()
    {
        await using var app = await DocProgram.StartAsync(Compile("getting-started-app"), Arguments(web: true), Token);
        using var http = new HttpClient { BaseAddress = app.Address, Timeout = TimeSpan.FromSeconds(30) };

        var servedBy = await GetItemsAsync(http, requests: 60);

        Assert.True(servedBy.ContainsKey("catalog-1") && servedBy.ContainsKey("catalog-2"),
            $"Both endpoints of the configuration should get traffic; served by: {string.Join(", ", servedBy.Select(p => $"{p.Key} {p.Value}"))}");
    }

    [Fact]
    public async Task The_console_app_of_section_7_calls_the_catalog_and_ends()
    {
        var before = _first!.RequestCount + _second!.RequestCount;

        await DocProgram.RunToCompletionAsync(Compile("getting-started-console"), Arguments(web: false), TimeSpan.FromSeconds(60));

        Assert.Equal(before + 1, _first.RequestCount + _second.RequestCount);
    }

    public async ValueTask DisposeAsync()
    {
        if (_first is not null)
        {
            await _first.DisposeAsync();
        }

        if (_second is not null)
        {
            await _second.DisposeAsync();
        }

        Directory.Delete(_contentRoot, recursive: true);
    }

    private static System.Reflection.Assembly Compile(string name)
    {
        var result = SnippetCompiler.Compile(MarkdownSnippets.Named(name));
        Assert.True(result.Success, string.Join('\n', result.Errors));
        return result.Load();
    }

    /// <summary>The arguments of `dotnet run`: the content root holding the docs' appsettings.json, a free port, and the replicas'
    /// addresses in place of the docs' (an object endpoint keeps its other keys: weight, zone, metadata).</summary>
    private List<string> Arguments(bool web)
    {
        var args = new List<string> { $"--contentRoot={_contentRoot}" };
        if (web)
        {
            args.Add("--urls=http://127.0.0.1:0");
        }

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(_contentRoot, "appsettings.json")));
        var endpoints = config.RootElement.GetProperty("Mesh").GetProperty("Services").GetProperty("catalog").GetProperty("Endpoints").EnumerateArray().ToList();
        Assert.Equal(2, endpoints.Count);
        var addresses = new[] { _first!.Address, _second!.Address };
        for (var i = 0; i < 2; i++)
        {
            args.Add(endpoints[i].ValueKind == JsonValueKind.String
                ? $"--Mesh:Services:catalog:Endpoints:{i}={addresses[i]}"
                : $"--Mesh:Services:catalog:Endpoints:{i}:Address={addresses[i]}");
        }

        return args;
    }

    private static async Task<Dictionary<string, int>> GetItemsAsync(HttpClient http, int requests)
    {
        var answers = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Parallel.ForAsync(0, requests, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Token }, async (_, ct) =>
            answers.Add(await http.GetStringAsync("/items", ct)));
        return answers.GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count());
    }
}
