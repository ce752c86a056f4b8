namespace Mesh.Docs.Tests.Snippets;

/// <summary>
/// The wrappers a fragment is compiled in (the marker's <c>fragment</c> key names one). The fragment's leading
/// <c>using</c> directives go to the top of the file; <c>{snippet}</c> is replaced by the rest. A fragment with
/// <c>given</c> declarations sees them as names that exist (it can be compiled, not run); a fragment without them can
/// be run as its wrapper stands.
/// </summary>
public static class SnippetWrappers
{
    public static IReadOnlyDictionary<string, string> All { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // Top-level statements of a program, nothing declared (besides args).
        ["program"] = "{snippet}",

        // In Program.cs of an ASP.NET Core app, after `var builder = WebApplication.CreateBuilder(args);`.
        ["web-builder"] = """
            var builder = WebApplication.CreateBuilder(args);
            {snippet}
            """,

        // In Program.cs of an ASP.NET Core app that uses the mesh, after `var app = builder.Build();`.
        ["web-app"] = """
            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddMeshClient();
            var app = builder.Build();
            {snippet}
            """,

        // In Program.cs of a console or worker app with the generic host.
        ["host-builder"] = """
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(args);
            {snippet}
            """,

        // With a bare service collection.
        ["services"] = """
            var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
            {snippet}
            """,

        // With a Docker session (Mesh.Containers): session, engine, cancellationToken.
        ["docker"] = """
            await using var session = await Mesh.Containers.DockerSession.StartAsync();
            var engine = session.Engine;
            var cancellationToken = CancellationToken.None;
            {snippet}
            """,

        // Members of a test class (xunit.v3).
        ["test-class"] = """
            public sealed class {class}
            {
            {snippet}
            }
            """,

        // The body of a test: ct is the test's cancellation token.
        ["test-method"] = """
            public sealed class {class}
            {
                [Fact]
                public async Task The_snippet_runs_to_its_end()
                {
                    var ct = TestContext.Current.CancellationToken;
            {snippet}
                }
            }
            """,

        // The body of a test with a fleet of three in-process replicas of "catalog" and a mesh client for it.
        ["test-method-fleet"] = """
            public sealed class {class}
            {
                [Fact]
                public async Task The_snippet_runs_to_its_end()
                {
                    var ct = TestContext.Current.CancellationToken;
                    await using var fleet = await Mesh.Testing.ServiceFleet.StartAsync("catalog", 3, cancellationToken: ct);
                    await using var mesh = Mesh.Testing.MeshTestClient.Create(fleet);
            {snippet}
                }
            }
            """,
    };

    /// <summary>Stand-in types a block may assume (the marker's <c>types</c> key): a typed client and a gRPC client as a user's project would have them.</summary>
    public static IReadOnlyDictionary<string, string> Types { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["CatalogClient"] = """
            public sealed class CatalogClient(System.Net.Http.HttpClient http)
            {
                public System.Threading.Tasks.Task<string> GetItemsAsync(System.Threading.CancellationToken ct) => http.GetStringAsync("/items", ct);
            }
            """,
        ["PaymentsClient"] = """
            public sealed class PaymentsClient(System.Net.Http.HttpClient http)
            {
                public System.Net.Http.HttpClient Http { get; } = http;
            }
            """,

        // What Grpc.Tools generates for `service Catalog` in a .proto without a C# namespace, reduced to the client.
        ["Catalog.CatalogClient"] = """
            public static partial class Catalog
            {
                public partial class CatalogClient : Grpc.Core.ClientBase<CatalogClient>
                {
                    public CatalogClient(Grpc.Core.CallInvoker callInvoker) : base(callInvoker) { }
                    protected CatalogClient(ClientBaseConfiguration configuration) : base(configuration) { }
                    protected override CatalogClient NewInstance(ClientBaseConfiguration configuration) => new(configuration);
                }
            }
            """,
    };
}
