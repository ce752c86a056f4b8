namespace Mesh.Containers.Tests.Images;

public sealed class DotNetImageBuilderTests(DockerFixture fixture)
{
    [Fact]
    public async Task ThreeReplicasOfTheDotNetServiceEachAnswer()
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
            var answers = await Task.WhenAll(replicas.Select(r => Http.GetStringAsync(r.GetBaseAddress(8080), ct)));

            Assert.Equal(["catalog replica 1", "catalog replica 2", "catalog replica 3"], answers);
        }
        finally
        {
            await Task.WhenAll(replicas.Select(r => r.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task UnchangedProjectIsNotPublishedAgain()
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
    public void DirectoryWithoutAProjectIsRejected()
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
