using System.Formats.Tar;
using Mesh.Containers.Internal;

namespace Mesh.Containers.Tests.Images;

public sealed class BuildContextTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mesh-context-test-").FullName;

    [Fact]
    public void The_hash_changes_when_a_file_changes()
    {
        Write("www/index.html", "one");
        var before = Hash();

        Write("www/index.html", "two");

        Assert.NotEqual(before, Hash());
    }

    [Fact]
    public void The_hash_ignores_files_the_dockerignore_excludes()
    {
        Write(".dockerignore", "*.tmp");
        Write("keep.txt", "k");
        var before = Hash();

        Write("scratch.tmp", "changes all the time");

        Assert.Equal(before, Hash());
    }

    [Fact]
    public void The_hash_depends_on_the_build_settings()
    {
        Write("keep.txt", "k");
        var context = Collect();

        Assert.NotEqual(context.ComputeHash(["arg:A=1"]), context.ComputeHash(["arg:A=2"]));
    }

    [Fact]
    public async Task The_Dockerfile_and_the_dockerignore_are_sent_even_when_excluded()
    {
        Write(".dockerignore", "*\n!www");
        Write("Dockerfile", "FROM scratch");
        Write("www/index.html", "hi");
        Write("secret.key", "no");

        var names = await ArchiveNamesAsync(Collect(new HashSet<string> { "Dockerfile", ".dockerignore" }));

        Assert.Equal([".dockerignore", "Dockerfile", "www/index.html"], names.Order(StringComparer.Ordinal));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Hash() => Collect().ComputeHash([]);

    private BuildContext Collect(IReadOnlySet<string>? alwaysInclude = null)
    {
        var context = new BuildContext();
        context.AddDirectoryTree(_directory, DockerIgnore.Load(_directory), alwaysInclude: alwaysInclude);
        return context;
    }

    private static async Task<List<string>> ArchiveNamesAsync(BuildContext context)
    {
        await using var archive = await context.CreateArchiveAsync(TestContext.Current.CancellationToken);
        var names = new List<string>();
        await using var reader = new TarReader(archive);
        while (await reader.GetNextEntryAsync(cancellationToken: TestContext.Current.CancellationToken) is { } entry)
        {
            names.Add(entry.Name);
        }

        return names;
    }

    private void Write(string relative, string content)
    {
        var path = Path.Combine(_directory, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }
}
