using Mesh.Containers.Tests.TestSupport;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers.Tests.Images;

public sealed class DockerImageBuilderTests(DockerFixture fixture)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_classic_example_static_page_is_built_run_and_served_over_http()
    {
        var page = $"<h1>classic example {Guid.NewGuid():N}</h1>";
        var image = await new DockerImageBuilder(DockerFixture.PrepareStaticSite(page))
            .WithRepository("mesh-tests/classic")
            .BuildAsync(fixture.Engine, Ct);

        try
        {
            await using var container = await new DockerContainerBuilder(image)
                .WithPortBinding(80)
                .WithWaitStrategy(WaitStrategy.ForHttp(80))
                .StartAsync(fixture.Session, Ct);

            Assert.Equal(page, (await LoopbackHttp.GetStringAsync(container.GetBaseAddress(80), Ct)).Trim());
            Assert.False(image.FromCache);
            Assert.StartsWith("mesh-tests/classic:", image.Reference, StringComparison.Ordinal);
        }
        finally
        {
            await fixture.RemoveImageAsync(image);
        }
    }

    [Fact]
    public async Task An_unchanged_context_is_found_by_content_hash_without_building()
    {
        var builder = new DockerImageBuilder(DockerFixture.PrepareStaticSite()).WithRepository("mesh-tests/httpd");

        var image = await builder.BuildAsync(fixture.Engine, Ct);

        Assert.True(image.FromCache);
        Assert.Equal(fixture.HttpdImage.Id, image.Id);
    }

    [Fact]
    public async Task A_failed_build_names_the_failing_step_and_carries_the_engine_message_and_output()
    {
        var context = DockerFixture.PrepareStaticSite();
        var builder = new DockerImageBuilder(context)
            .WithRepository("mesh-tests/failing")
            .WithDockerfileContent("""
                FROM scratch
                COPY busybox /bin/busybox
                RUN ["/bin/busybox", "sh", "-c", "echo about to fail; exit 7"]
                """);

        var error = await Assert.ThrowsAsync<DockerImageBuildException>(() => builder.BuildAsync(fixture.Engine, Ct));

        Assert.StartsWith("Step 3/", error.FailingStep, StringComparison.Ordinal);
        Assert.EndsWith(": RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo about to fail; exit 7\"]", error.FailingStep, StringComparison.Ordinal);
        Assert.Contains("returned a non-zero code: 7", error.EngineMessage, StringComparison.Ordinal);
        Assert.Contains("about to fail", error.Output);
    }

    [Fact]
    public async Task Build_arguments_and_the_target_stage_are_applied()
    {
        var builder = new DockerImageBuilder(DockerFixture.PrepareStaticSite())
            .WithRepository("mesh-tests/args")
            .WithDockerfileContent("""
                FROM scratch AS base
                COPY busybox /bin/busybox
                ARG GREETING=unset
                RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /www && echo $GREETING > /www/index.html"]
                ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]

                FROM base AS broken
                RUN ["/bin/busybox", "false"]
                """)
            .WithBuildArg("GREETING", "hello-from-arg")
            .WithTarget("base");

        var image = await builder.BuildAsync(fixture.Engine, Ct);
        await using var container = await new DockerContainerBuilder(image).WithPortBinding(80).WithWaitStrategy(WaitStrategy.ForHttp(80)).StartAsync(fixture.Session, Ct);

        Assert.Equal("hello-from-arg", (await LoopbackHttp.GetStringAsync(container.GetBaseAddress(80), Ct)).Trim());
    }

    [Fact]
    public async Task Build_progress_is_streamed_to_the_caller_with_its_steps()
    {
        var lines = new List<DockerBuildProgress>();
        var builder = new DockerImageBuilder(DockerFixture.PrepareStaticSite($"progress {Guid.NewGuid():N}"))
            .WithRepository("mesh-tests/progress")
            .WithProgress(new Recorder(lines));

        var image = await builder.BuildAsync(fixture.Engine, Ct);
        await fixture.RemoveImageAsync(image);

        Assert.Contains(lines, l => l.Message.StartsWith("Step 1/", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Step is not null && l.Step.Contains("COPY www /www", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_dockerignore_decides_what_reaches_the_image()
    {
        var context = DockerFixture.PrepareStaticSite();
        File.WriteAllText(Path.Combine(context, "www", "secret.txt"), "must not be served");
        File.WriteAllText(Path.Combine(context, "www", "notes.md"), "excluded by *.md");
        File.WriteAllText(Path.Combine(context, "www", "README.md"), "re-included by !");
        File.WriteAllText(Path.Combine(context, ".dockerignore"), "www/secret.txt\n**/*.md\n!www/README.md\n");
        var image = await new DockerImageBuilder(context).WithRepository("mesh-tests/dockerignore").BuildAsync(fixture.Engine, Ct);

        await using var container = await new DockerContainerBuilder(image).WithPortBinding(80).WithWaitStrategy(WaitStrategy.ForHttp(80)).StartAsync(fixture.Session, Ct);
        var listing = await container.ExecAsync(["/bin/busybox", "ls", "/www"], Ct);

        Assert.Equal(["README.md", "index.html"], listing.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Build_output_is_logged_through_ILogger()
    {
        fixture.RequireEngine();
        var captured = new CapturingLoggerProvider();
        using var loggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddProvider(captured).SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Debug));
        using var engine = await DockerEngine.ConnectAsync(new DockerEngineOptions { LoggerFactory = loggerFactory }, Ct);

        var image = await new DockerImageBuilder(DockerFixture.PrepareStaticSite($"logged {Guid.NewGuid():N}"))
            .WithRepository("mesh-tests/logged")
            .BuildAsync(engine, Ct);
        await fixture.RemoveImageAsync(image);

        Assert.Contains(captured.Messages, m => m.Level == Microsoft.Extensions.Logging.LogLevel.Debug && m.Message.Contains("] Step 2/", StringComparison.Ordinal));
        Assert.Contains(captured.Messages, m => m.Level == Microsoft.Extensions.Logging.LogLevel.Information && m.Message.StartsWith("Built image mesh-tests/logged:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_missing_Dockerfile_is_reported_before_contacting_the_engine()
    {
        var context = Directory.CreateTempSubdirectory("mesh-empty-context-").FullName;

        var error = await Assert.ThrowsAsync<FileNotFoundException>(() => new DockerImageBuilder(context).BuildAsync(fixture.Engine, Ct));

        Assert.Contains("No Dockerfile", error.Message, StringComparison.Ordinal);
    }

    private sealed class Recorder(List<DockerBuildProgress> lines) : IProgress<DockerBuildProgress>
    {
        public void Report(DockerBuildProgress value)
        {
            lock (lines)
            {
                lines.Add(value);
            }
        }
    }
}
