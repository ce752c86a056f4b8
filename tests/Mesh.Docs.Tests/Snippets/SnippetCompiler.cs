using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Mesh.Docs.Tests.Snippets;

/// <summary>The result of compiling one or more blocks: errors (with the block and line they belong to) and, without errors, the assembly.</summary>
public sealed record SnippetCompilation(IReadOnlyList<string> Errors, byte[]? Image)
{
    public bool Success => Errors.Count == 0;

    private Assembly? _assembly;

    /// <summary>The compiled assembly, loaded once.</summary>
    public Assembly Load() => _assembly ??= Assembly.Load(Image ?? throw new InvalidOperationException(string.Join('\n', Errors)));
}

/// <summary>
/// Compiles docs blocks as a user's project would: the implicit usings of the block's project kind (nothing more), the
/// references of this test project (the five packages' assemblies, ASP.NET Core, xunit.v3 and the packages the docs tell
/// users to add), nullable on, the latest language version.
/// </summary>
public static class SnippetCompiler
{
    private static readonly string[] s_consoleUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    private static readonly string[] s_webUsings =
    [
        .. s_consoleUsings, "System.Net.Http.Json", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Http",
        "Microsoft.AspNetCore.Routing", "Microsoft.Extensions.Configuration", "Microsoft.Extensions.DependencyInjection",
        "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    private static readonly CSharpParseOptions s_parse = new(LanguageVersion.Latest);

    private static readonly Lazy<IReadOnlyList<MetadataReference>> s_references = new(() =>
    {
        var self = typeof(SnippetCompiler).Assembly.Location;
        return ((AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string) ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !string.Equals(p, self, StringComparison.Ordinal))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToList();
    });

    private static readonly ConcurrentDictionary<OutputKind, CSharpCompilation> s_empty = new();

    public static IReadOnlyList<string> ImplicitUsings(SnippetProject project) => project switch
    {
        SnippetProject.Web => s_webUsings,
        SnippetProject.Console => s_consoleUsings,
        SnippetProject.Test => [.. s_consoleUsings, "Xunit"],
        _ => throw new ArgumentOutOfRangeException(nameof(project)),
    };

    /// <summary>Compiles <paramref name="snippet"/> (with the blocks its <c>with</c> key names).</summary>
    public static SnippetCompilation Compile(Snippet snippet) =>
        Compile([snippet, .. snippet.With.Select(MarkdownSnippets.Named)]);

    /// <summary>Compiles blocks of one project kind into one assembly.</summary>
    public static SnippetCompilation Compile(IReadOnlyList<Snippet> snippets)
    {
        var project = snippets[0].Project;
        var trees = new List<SyntaxTree>();
        var origins = new Dictionary<SyntaxTree, (Snippet Snippet, int FirstCodeLine)>();
        var givens = new List<string>();
        var types = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var snippet in snippets)
        {
            if (snippet.Project != project)
            {
                throw new InvalidOperationException($"{snippet} is a {snippet.Project} block; {snippets[0]} is a {project} one: they cannot be compiled together.");
            }

            var (text, firstCodeLine) = Wrap(snippet);
            var tree = CSharpSyntaxTree.ParseText(text, s_parse, path: snippet.Id, encoding: Encoding.UTF8);
            trees.Add(tree);
            origins[tree] = (snippet, firstCodeLine);
            givens.AddRange(snippet.Givens);
            foreach (var type in snippet.Types)
            {
                types.Add(SnippetWrappers.Types.TryGetValue(type, out _) ? type : throw new InvalidOperationException($"{snippet}: unknown stand-in type '{type}' (known: {string.Join(", ", SnippetWrappers.Types.Keys)})."));
            }
        }

        var support = new StringBuilder();
        foreach (var name in ImplicitUsings(project))
        {
            support.Append("global using global::").Append(name).AppendLine(";");
        }

        if (givens.Count > 0)
        {
            support.AppendLine("global using static DocSnippetGivens;");
            support.AppendLine("internal static class DocSnippetGivens {");
            foreach (var given in givens.Distinct(StringComparer.Ordinal))
            {
                support.Append("    public static ").Append(given).AppendLine(" => throw new System.InvalidOperationException(\"a given of a docs fragment\");");
            }

            support.AppendLine("}");
        }

        foreach (var type in types)
        {
            support.AppendLine(SnippetWrappers.Types[type]);
        }

        trees.Add(CSharpSyntaxTree.ParseText(support.ToString(), s_parse, path: "(implicit usings, givens and stand-in types)", encoding: Encoding.UTF8));

        var hasTopLevelStatements = trees.Any(t => t.GetRoot().ChildNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax>().Any());
        var kind = hasTopLevelStatements ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary;
        var compilation = s_empty.GetOrAdd(kind, static k => CSharpCompilation.Create(
                "DocSnippets",
                references: s_references.Value,
                options: new CSharpCompilationOptions(k, nullableContextOptions: NullableContextOptions.Enable, concurrentBuild: false)))
            .WithAssemblyName("DocSnippets_" + Guid.NewGuid().ToString("N"))
            .AddSyntaxTrees(trees);

        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var errors = result.Diagnostics
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => Describe(d, origins))
            .ToList();
        return new SnippetCompilation(errors, errors.Count == 0 ? image.ToArray() : null);
    }

    /// <summary>The source the block is compiled as: a whole file as it is, a fragment inside its wrapper.</summary>
    public static (string Text, int FirstCodeLine) Wrap(Snippet snippet)
    {
        if (!snippet.IsFragment)
        {
            return (snippet.Code, 0);
        }

        if (!SnippetWrappers.All.TryGetValue(snippet.Wrapper!, out var wrapper))
        {
            throw new InvalidOperationException($"{snippet}: unknown fragment wrapper '{snippet.Wrapper}' (known: {string.Join(", ", SnippetWrappers.All.Keys)}).");
        }

        // The fragment's leading using directives (not `using var` declarations) go to the top of the file.
        var lines = snippet.Code.Split('\n');
        var usings = new List<string>();
        var i = 0;
        for (; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.IndexOf("//", StringComparison.Ordinal) is > 0 and var comment)
            {
                line = line[..comment].TrimEnd();
            }

            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal))
            {
                usings.Add("");
                continue;
            }

            if (line.StartsWith("using ", StringComparison.Ordinal) && line.EndsWith(';') && !line.StartsWith("using var ", StringComparison.Ordinal) && !line.Contains('(', StringComparison.Ordinal))
            {
                usings.Add(line);
                continue;
            }

            break;
        }

        var className = "DocSnippet_" + snippet.Line.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var parts = wrapper.Replace("{class}", className, StringComparison.Ordinal).Split("{snippet}");
        var prefix = string.Join('\n', usings) + "\n" + parts[0];
        var text = prefix + string.Join('\n', lines[i..]) + parts[1];
        return (text, prefix.Count(c => c == '\n') - i);
    }

    private static string Describe(Diagnostic diagnostic, Dictionary<SyntaxTree, (Snippet Snippet, int FirstCodeLine)> origins)
    {
        var span = diagnostic.Location.GetLineSpan();
        if (diagnostic.Location.SourceTree is { } tree && origins.TryGetValue(tree, out var origin))
        {
            // Lines of the block count from the line after the opening fence.
            var blockLine = span.StartLinePosition.Line - origin.FirstCodeLine;
            var where = blockLine >= 0 && blockLine < origin.Snippet.Code.Split('\n').Length
                ? $"{origin.Snippet.File}:{origin.Snippet.Line + 1 + blockLine}"
                : $"{origin.Snippet.Id} (in its wrapper '{origin.Snippet.Wrapper}')";
            return $"{where}: {diagnostic.Id}: {diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
        }

        return $"{span.Path}({span.StartLinePosition.Line + 1}): {diagnostic.Id}: {diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
    }
}
