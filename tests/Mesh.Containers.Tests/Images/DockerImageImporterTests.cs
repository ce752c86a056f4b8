using System.Formats.Tar;
using Mesh.Containers.Tests.TestSupport;

namespace Mesh.Containers.Tests.Images;

public sealed class DockerImageImporterTests(DockerFixture fixture)
{
    [Fact]
    public async Task An_imported_root_filesystem_runs_as_an_image()
    {
        var ct = TestContext.Current.CancellationToken;
        using var rootfs = new MemoryStream();
        await using (var writer = new TarWriter(rootfs, leaveOpen: true))
        {
            await writer.WriteEntryAsync("/bin/busybox", "bin/busybox", ct);
        }

        rootfs.Position = 0;
        var image = await DockerImageImporter.ImportAsync(fixture.Engine, rootfs, "mesh-tests/imported:1", ["ENTRYPOINT [\"/bin/busybox\"]"], ct);
        await using var container = await new DockerContainerBuilder(image)
            .WithCommand("sh", "-c", "echo imported-and-running; sleep 30")
            .WithWaitStrategy(WaitStrategy.ForLogLine("imported-and-running"))
            .StartAsync(fixture.Session, ct);

        Assert.Equal("mesh-tests/imported:1", image.Reference);
        Assert.StartsWith("sha256:", image.Id, StringComparison.Ordinal);
    }
}
