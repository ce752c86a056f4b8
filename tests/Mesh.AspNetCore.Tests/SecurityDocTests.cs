using System.Text.RegularExpressions;

namespace Mesh.AspNetCore.Tests;

/// <summary>docs/security.md promises that every statement has a test, linked by name: each link must name a test method
/// that exists in the linked file, so that renaming or deleting a test cannot silently leave a statement unproven.</summary>
public sealed partial class SecurityDocTests
{
    [GeneratedRegex(@"^\[(?<ref>[\w-]+)\]: (?<path>\S+)$", RegexOptions.Multiline)]
    private static partial Regex Reference();

    [GeneratedRegex(@"\[`(?<name>\w+)`\]\[(?<ref>[\w-]+)\]")]
    private static partial Regex TestLink();

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Mesh.Sdk.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Mesh.Sdk.sln above {AppContext.BaseDirectory}.");
    }

    [Fact]
    public void Every_test_linked_from_the_threat_model_exists_in_the_linked_file()
    {
        var docs = Path.Combine(RepositoryRoot(), "docs");
        var text = File.ReadAllText(Path.Combine(docs, "security.md"));
        var references = Reference().Matches(text).ToDictionary(m => m.Groups["ref"].Value, m => Path.GetFullPath(Path.Combine(docs, m.Groups["path"].Value)));
        var links = TestLink().Matches(text).Select(m => (Name: m.Groups["name"].Value, Ref: m.Groups["ref"].Value)).ToList();

        Assert.True(links.Count >= 30, $"only {links.Count} test links found in docs/security.md");
        var missing = links
            .Where(link => !references.TryGetValue(link.Ref, out var path) || !File.Exists(path) ||
                           !Regex.IsMatch(File.ReadAllText(path), $@"\[Fact[^\]]*\]\s*(\[[^\]]*\]\s*)*public (async Task|void) {link.Name}\("))
            .Select(link => $"{link.Name} in [{link.Ref}]")
            .Distinct()
            .ToList();
        Assert.Empty(missing);
    }
}
