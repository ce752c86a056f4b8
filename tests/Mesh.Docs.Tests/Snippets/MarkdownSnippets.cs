using System.Text.RegularExpressions;

namespace Mesh.Docs.Tests.Snippets;

/// <summary>Which project a block is written for: it decides the implicit usings it is compiled with.</summary>
public enum SnippetProject
{
    /// <summary>An ASP.NET Core app (<c>Microsoft.NET.Sdk.Web</c>).</summary>
    Web,

    /// <summary>A console or worker app (<c>Microsoft.NET.Sdk</c>).</summary>
    Console,

    /// <summary>An xunit.v3 test project as docs/testing.md §1 describes it (<c>Microsoft.NET.Sdk</c> plus <c>using Xunit</c>).</summary>
    Test,
}

/// <summary>
/// One C# block of a Markdown file, with what its marker says. A marker is an HTML comment on the line before the fence
/// (blank lines may separate them): <c>&lt;!-- snippet: key value; key value --&gt;</c>, keys:
/// <c>name</c> (an id walkthrough tests and other markers refer to), <c>project</c> (web, console, test),
/// <c>fragment</c> (the wrapper the block is compiled in; without it the block is a whole file),
/// <c>given</c> (declarations the fragment assumes, comma-separated, e.g. <c>DockerEngine engine, CancellationToken ct</c>),
/// <c>types</c> (stand-in types it assumes: CatalogClient, Catalog.CatalogClient, PaymentsClient),
/// <c>with</c> (names of blocks compiled together with it), <c>part-of</c> (a block that must contain this one's code verbatim).
/// </summary>
public sealed record Snippet(
    string File,
    int Line,
    string Code,
    SnippetProject Project,
    string? Name,
    string? Wrapper,
    IReadOnlyList<string> Givens,
    IReadOnlyList<string> Types,
    IReadOnlyList<string> With,
    string? PartOf)
{
    /// <summary>Where the block starts, for test names and messages: <c>docs/testing.md:123</c>.</summary>
    public string Id => $"{File}:{Line}";

    public bool IsFragment => Wrapper is not null;

    public override string ToString() => Name is null ? Id : $"{Id} ({Name})";
}

/// <summary>Finds the C# blocks of the repository's Markdown files.</summary>
public static partial class MarkdownSnippets
{
    private static readonly string[] s_keys = ["name", "project", "fragment", "given", "types", "with", "part-of"];

    /// <summary>The repository root (the folder holding Mesh.Sdk.sln), found above the test's output folder.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>README.md, docs/*.md and src/*/README.md, relative to the root with forward slashes.</summary>
    public static IReadOnlyList<string> DocumentFiles { get; } =
    [
        "README.md",
        .. Directory.GetFiles(Path.Combine(RepositoryRoot, "docs"), "*.md").Select(Relative).Order(StringComparer.Ordinal),
        .. Directory.GetDirectories(Path.Combine(RepositoryRoot, "src")).Select(d => Path.Combine(d, "README.md")).Where(System.IO.File.Exists).Select(Relative).Order(StringComparer.Ordinal),
    ];

    private static readonly Lazy<IReadOnlyList<Snippet>> s_all = new(() => DocumentFiles.SelectMany(Parse).ToList());

    /// <summary>Every C# block of <see cref="DocumentFiles"/>.</summary>
    public static IReadOnlyList<Snippet> All => s_all.Value;

    /// <summary>The block with a marker <c>name</c>.</summary>
    public static Snippet Named(string name) =>
        All.SingleOrDefault(s => s.Name == name) ?? throw new InvalidOperationException($"No C# block of the docs has the marker 'name {name}'.");

    /// <summary>The text of the block of any language (JSON, XML, ...) whose marker has <c>name</c>, in <paramref name="file"/>.</summary>
    public static string NamedBlock(string file, string name)
    {
        var lines = System.IO.File.ReadAllLines(Path.Combine(RepositoryRoot, file));
        for (var i = 0; i < lines.Length; i++)
        {
            if (Fence().Match(lines[i]) is { Success: true } open && MarkerBefore(lines, i).GetValueOrDefault("name") == name)
            {
                var fence = open.Groups["fence"].Value;
                var body = lines.Skip(i + 1).TakeWhile(l => !l.TrimStart().StartsWith(fence, StringComparison.Ordinal));
                return string.Join('\n', body);
            }
        }

        throw new InvalidOperationException($"{file} has no block with the marker 'name {name}'.");
    }

    /// <summary>The project kind of a page's blocks when their marker does not say.</summary>
    public static SnippetProject DefaultProject(string file) =>
        file is "docs/testing.md" or "src/Mesh.Testing/README.md" ? SnippetProject.Test : SnippetProject.Web;

    public static IEnumerable<Snippet> Parse(string file)
    {
        var lines = System.IO.File.ReadAllLines(Path.Combine(RepositoryRoot, file));
        for (var i = 0; i < lines.Length; i++)
        {
            var open = Fence().Match(lines[i]);
            if (!open.Success)
            {
                continue;
            }

            var indent = open.Groups["indent"].Value.Length;
            var fence = open.Groups["fence"].Value;
            var language = open.Groups["lang"].Value.Trim().ToLowerInvariant();
            var start = i;
            var body = new List<string>();
            for (i++; i < lines.Length && !lines[i].TrimStart().StartsWith(fence, StringComparison.Ordinal); i++)
            {
                body.Add(lines[i].Length >= indent && string.IsNullOrWhiteSpace(lines[i][..indent]) ? lines[i][indent..] : lines[i].TrimStart());
            }

            if (language is not ("csharp" or "cs" or "c#"))
            {
                continue;
            }

            var marker = MarkerBefore(lines, start);
            yield return Create(file, start + 1, string.Join('\n', body), marker);
        }
    }

    private static Snippet Create(string file, int line, string code, IReadOnlyDictionary<string, string> marker)
    {
        static IReadOnlyList<string> List(IReadOnlyDictionary<string, string> m, string key) =>
            m.TryGetValue(key, out var value) ? value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];

        var project = marker.TryGetValue("project", out var p)
            ? Enum.Parse<SnippetProject>(p, ignoreCase: true)
            : DefaultProject(file);
        return new Snippet(file, line, code, project, marker.GetValueOrDefault("name"), marker.GetValueOrDefault("fragment"),
            List(marker, "given"), List(marker, "types"), List(marker, "with"), marker.GetValueOrDefault("part-of"));
    }

    private static Dictionary<string, string> MarkerBefore(string[] lines, int fenceLine)
    {
        var j = fenceLine - 1;
        while (j >= 0 && string.IsNullOrWhiteSpace(lines[j]))
        {
            j--;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (j < 0 || Marker().Match(lines[j].Trim()) is not { Success: true } marker)
        {
            return result;
        }

        foreach (var part in marker.Groups["body"].Value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var space = part.IndexOf(' ', StringComparison.Ordinal);
            var key = space < 0 ? part : part[..space];
            if (!s_keys.Contains(key))
            {
                throw new FormatException($"line {j + 1}: unknown snippet marker key '{key}' (known: {string.Join(", ", s_keys)}).");
            }

            result[key] = space < 0 ? "" : part[(space + 1)..].Trim();
        }

        return result;
    }

    private static string Relative(string path) => Path.GetRelativePath(RepositoryRoot, path).Replace('\\', '/');

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Mesh.Sdk.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"Mesh.Sdk.sln was not found above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"^(?<indent>\s*)(?<fence>```+|~~~+)(?<lang>[^`]*)$")]
    private static partial Regex Fence();

    [GeneratedRegex(@"^<!--\s*snippet:\s*(?<body>.*?)\s*-->$")]
    private static partial Regex Marker();
}
