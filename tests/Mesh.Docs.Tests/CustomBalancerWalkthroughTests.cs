using System.Net;
using Mesh.Docs.Tests.Snippets;
using Mesh.Testing;
using Mesh.Tests.Shared;

namespace Mesh.Docs.Tests;

/// <summary>
/// docs/load-balancing.md "Custom balancers", run as a reader would: its configuration in appsettings.json, its app
/// unchanged (the PriorityBalancer is the docs' own), two real replicas behind it; only the endpoint addresses are
/// overridden on the command line, as configuration.md documents.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class CustomBalancerWalkthroughTests : IAsyncLifetime
{
    private readonly string _contentRoot = Directory.CreateTempSubdirectory("mesh-custom-balancer-").FullName;
    private InProcessReplica? _primary;
    private InProcessReplica? _backup;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _primary = await InProcessReplica.StartAsync("primary", cancellationToken: Token);
        _backup = await InProcessReplica.StartAsync("backup", cancellationToken: Token);
        File.WriteAllText(Path.Combine(_contentRoot, "appsettings.json"), MarkdownSnippets.NamedBlock("docs/load-balancing.md", "custom-balancer-config"));
    }

    [Fact]
    public async Task The_priority_balancer_sends_everything_to_the_primary_and_to_the_backup_once_the_primary_is_ejected()
    {
        var result = SnippetCompiler.Compile(MarkdownSnippets.Named("custom-balancer-app"));
        Assert.True(result.Success, string.Join('\n', result.Errors));
        await using var app = await DocProgram.StartAsync(result.Load(),
        [
            $"--contentRoot={_contentRoot}", "--urls=http://127.0.0.1:0",
            $"--Mesh:Services:catalog:Endpoints:0:Address={_primary!.Address}",
            $"--Mesh:Services:catalog:Endpoints:1:Address={_backup!.Address}",
        ], Token);
        using var http = new HttpClient { BaseAddress = app.Address, Timeout = TimeSpan.FromSeconds(30) };

        // Equal weights: every built-in balancer would spread these over both replicas.
        var healthy = await GetAsync(http, 40);
        _primary.Behavior.ErrorRate = 1.0;
        var failing = await GetAsync(http, 10);  // ConsecutiveFailures: 3 ejects the primary after its third failure
        var afterEjection = await GetAsync(http, 30);

        Assert.All(healthy, answer => Assert.Equal("primary", answer));
        Assert.Equal(new[] { "error", "error", "error" }, failing.Take(3));
        Assert.All(failing.Skip(3).Concat(afterEjection), answer => Assert.Equal("backup", answer));
    }

    private static async Task<List<string>> GetAsync(HttpClient http, int requests)
    {
        var answers = new List<string>();
        for (var i = 0; i < requests; i++)
        {
            using var response = await http.GetAsync("/items", Token);
            answers.Add(response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync(Token) : "error");
        }

        return answers;
    }

    public async ValueTask DisposeAsync()
    {
        if (_primary is not null)
        {
            await _primary.DisposeAsync();
        }

        if (_backup is not null)
        {
            await _backup.DisposeAsync();
        }

        Directory.Delete(_contentRoot, recursive: true);
    }
}
