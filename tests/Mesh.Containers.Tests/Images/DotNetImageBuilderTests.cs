using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Images;

public sealed class DotNetImageBuilderTests(DockerFixture fixture)
{
    [Fact]
    public async Task Three_replicas_of_the_dotnet_service_each_answer_as_themselves()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = await fixture.GetWebServiceImageAsync();

        var replicas = await Task.WhenAll(Enumerable.Range(1, 3).Select(i => new DockerContainerBuilder(image)
            .WithEnvironment("REPLICA", i.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithPortBinding(8080)
            .WithWaitStrategy(WaitStrategy.ForHttp(8080, "/healthz"))
            .StartAsync(fixture.Session, ct)));
        try
        {
            var answers = await Task.WhenAll(replicas.Select(r => LoopbackHttp.GetStringAsync(r.GetBaseAddress(8080), ct)));

            Assert.Equal(["catalog replica 1", "catalog replica 2", "catalog replica 3"], answers);
        }
        finally
        {
            await Task.WhenAll(replicas.Select(r => r.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task An_unchanged_project_is_not_published_again()
    {
        var first = await fixture.GetWebServiceImageAsync();
        var lines = new List<string>();

        var again = await new DotNetImageBuilder(Path.Combine(DockerFixture.AssetsDirectory, "WebService"))
            .WithRepository("mesh-tests/webservice")
            .WithProgress(new Progress(lines))
            .BuildAsync(fixture.Engine, TestContext.Current.CancellationToken);

        Assert.True(again.FromCache);
        Assert.Equal(first.Id, again.Id);
        Assert.DoesNotContain(lines, l => l.Contains("publish", StringComparison.OrdinalIgnoreCase) && !l.Contains("cached", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_app_whose_start_up_throws_prints_the_exception_and_exits_with_134_as_on_the_host()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = await fixture.GetWebServiceImageAsync();

        // On the host, an unhandled exception prints "Unhandled exception. ..." and the runtime aborts: SIGABRT, exit code 134.
        // As PID 1 of a FROM scratch container, SIGABRT is ignored (the kernel protects a namespace's init) and glibc's abort
        // falls through to a fault: 139. DotNetImageBuilder's images therefore run with the engine's init as PID 1.
        await using var container = await new DockerContainerBuilder(image)
            .WithEnvironment("CRASH_AT_START", "the start-up of this app throws")
            .WithWaitStrategy(WaitStrategy.None())
            .StartAsync(fixture.Session, ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var exitCode = await container.WaitForExitAsync(timeout.Token);
        var logs = string.Join("\n", (await container.GetLogsAsync(cancellationToken: ct)).Select(l => l.Text));

        Assert.Contains("Unhandled exception. System.InvalidOperationException: the start-up of this app throws", logs, StringComparison.Ordinal);
        Assert.Equal(134, exitCode);
    }

    [Fact]
    public void A_directory_without_a_project_is_rejected()
    {
        var empty = Directory.CreateTempSubdirectory("mesh-no-project-").FullName;

        var error = Assert.Throws<FileNotFoundException>(() => new DotNetImageBuilder(empty));

        Assert.Contains("exactly one project file", error.Message, StringComparison.Ordinal);
    }

    private sealed class Progress(List<string> lines) : IProgress<DockerBuildProgress>
    {
        public void Report(DockerBuildProgress value)
        {
            lock (lines)
            {
                lines.Add(value.Message);
            }
        }
    }
}

public sealed class DotNetImageSourceHashTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("mesh-source-hash-").FullName;

    [Fact]
    public void The_source_hash_does_not_depend_on_where_the_project_lives()
    {
        var here = Copy("a/WebService");
        var there = Copy("b/nested/WebService");

        Assert.Equal(new DotNetImageBuilder(here).SourceHash(), new DotNetImageBuilder(there).SourceHash());
    }

    [Fact]
    public void The_source_hash_changes_when_a_source_file_changes()
    {
        var project = Copy("c/WebService");
        var before = new DotNetImageBuilder(project).SourceHash();

        File.AppendAllText(Path.Combine(project, "Program.cs"), "// changed\n");

        Assert.NotEqual(before, new DotNetImageBuilder(project).SourceHash());
    }

    [Fact]
    public void Build_output_does_not_change_the_source_hash()
    {
        var project = Copy("d/WebService");
        var before = new DotNetImageBuilder(project).SourceHash();

        Directory.CreateDirectory(Path.Combine(project, "obj"));
        File.WriteAllText(Path.Combine(project, "obj", "project.assets.json"), "{}");

        Assert.Equal(before, new DotNetImageBuilder(project).SourceHash());
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Copy(string relative)
    {
        var target = Path.Combine(_root, relative);
        Directory.CreateDirectory(target);
        var source = Path.Combine(DockerFixture.AssetsDirectory, "WebService");
        foreach (var file in new[] { "WebService.csproj", "Program.cs", "Directory.Build.props", "Directory.Packages.props" })
        {
            File.Copy(Path.Combine(source, file), Path.Combine(target, file));
        }

        return target;
    }
}

public sealed class DotNetAppImageBuilderTests
{
    [Fact]
    public void An_assembly_without_its_runtime_configuration_is_rejected_naming_what_is_missing()
    {
        var directory = Directory.CreateTempSubdirectory("mesh-app-image-").FullName;
        var assembly = Path.Combine(directory, "App.dll");
        File.WriteAllBytes(assembly, [0x4d, 0x5a]);

        var error = Assert.Throws<FileNotFoundException>(() => new DotNetAppImageBuilder(assembly));

        Assert.Contains("App.runtimeconfig.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("framework-dependent", error.Message, StringComparison.Ordinal);
        Directory.Delete(directory, recursive: true);
    }
}
