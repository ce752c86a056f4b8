using Mesh.Docs.Tests.Snippets;

namespace Mesh.Docs.Tests;

/// <summary>Every C# block of README.md, docs/*.md and the package READMEs compiles (a fragment inside the wrapper its marker names).</summary>
public sealed class DocsCompileTests
{
    public static TheoryData<string> Blocks() => new(MarkdownSnippets.All.Select(s => s.Id));

    [Theory]
    [MemberData(nameof(Blocks))]
    public void The_csharp_block_compiles(string id)
    {
        var snippet = MarkdownSnippets.All.Single(s => s.Id == id);

        var result = SnippetCompiler.Compile(snippet);

        Assert.True(result.Success, $"{snippet} does not compile{(snippet.IsFragment ? $" (fragment in the wrapper '{snippet.Wrapper}')" : "")}:\n  " +
            string.Join("\n  ", result.Errors));
    }

    [Fact]
    public void The_blocks_of_every_page_are_found()
    {
        var perFile = MarkdownSnippets.All.GroupBy(s => s.File).ToDictionary(g => g.Key, g => g.Count());

        foreach (var file in new[] { "README.md", "docs/getting-started.md", "docs/testing.md", "docs/containers.md", "src/Mesh.Core/README.md", "src/Mesh.Testing/README.md" })
        {
            Assert.True(perFile.GetValueOrDefault(file) > 0, $"no C# block found in {file}; found: {string.Join(", ", perFile.Select(p => $"{p.Key} {p.Value}"))}");
        }
    }

    [Fact]
    public void Every_package_readme_has_a_csharp_block()
    {
        var packages = Directory.GetDirectories(Path.Combine(MarkdownSnippets.RepositoryRoot, "src"))
            .Where(d => Directory.GetFiles(d, "*.csproj").Length == 1)
            .Select(d => $"src/{Path.GetFileName(d)}/README.md");

        Assert.All(packages, readme => Assert.Contains(MarkdownSnippets.All, s => s.File == readme));
    }

    [Fact]
    public void A_fragment_marked_part_of_a_block_appears_in_it_verbatim()
    {
        foreach (var fragment in MarkdownSnippets.All.Where(s => s.PartOf is not null))
        {
            var whole = MarkdownSnippets.Named(fragment.PartOf!).Code.Split('\n').Select(l => l.Trim()).ToList();
            var position = 0;
            foreach (var line in fragment.Code.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("//", StringComparison.Ordinal) && !l.StartsWith("using ", StringComparison.Ordinal)))
            {
                var found = whole.FindIndex(position, l => l == line);
                Assert.True(found >= 0, $"{fragment} is marked part of '{fragment.PartOf}', but its line \"{line}\" is not there (in that order).");
                position = found + 1;
            }
        }
    }
}
