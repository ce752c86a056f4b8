using Docker.DotNet.Models;
using Mesh.Containers.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers;

/// <summary>Imports a root filesystem tarball as an image (the Engine API's <c>POST /images/create?fromSrc=-</c>, like <c>docker import</c>).</summary>
public static class DockerImageImporter
{
    /// <summary>Imports <paramref name="rootFilesystem"/> (a tar archive of a root filesystem) as <paramref name="reference"/>.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="rootFilesystem">The tar archive; read to the end, not disposed.</param>
    /// <param name="reference">The <c>repository:tag</c> to give the image.</param>
    /// <param name="changes">Dockerfile instructions to apply, for example <c>ENTRYPOINT ["/bin/busybox"]</c> or <c>ENV A=b</c>.</param>
    /// <param name="cancellationToken">Cancels the import.</param>
    /// <returns>The imported image.</returns>
    /// <exception cref="DockerEngineException">The engine refused the archive; the message is the engine's.</exception>
    public static async Task<DockerImage> ImportAsync(DockerEngine engine, Stream rootFilesystem, string reference, IEnumerable<string>? changes = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(rootFilesystem);
        ArgumentException.ThrowIfNullOrWhiteSpace(reference);
        var colon = reference.LastIndexOf(':');
        var (repository, tag) = colon > reference.LastIndexOf('/') && colon > 0 ? (reference[..colon], reference[(colon + 1)..]) : (reference, "latest");
        string? error = null;
        var progress = new SyncProgress(m => error ??= string.IsNullOrWhiteSpace(m.Error?.Message) ? null : m.Error.Message);
        await EngineErrors.CallAsync($"Importing image '{reference}'", () => engine.Client.Images.CreateImageAsync(new ImagesCreateParameters
        {
            FromSrc = "-",
            Repo = repository,
            Tag = tag,
            Changes = changes?.ToList(),
        }, rootFilesystem, null, progress, cancellationToken)).ConfigureAwait(false);
        if (error is not null)
        {
            throw new DockerEngineException($"Importing image '{reference}'", null, error);
        }

        var image = await EngineErrors.CallAsync($"Inspecting imported image '{reference}'",
            () => engine.Client.Images.InspectImageAsync($"{repository}:{tag}", cancellationToken)).ConfigureAwait(false);
        ImageLog.Imported(engine.LoggerFactory.CreateLogger<DockerImage>(), reference);
        return new DockerImage(image.ID, $"{repository}:{tag}", null, FromCache: false);
    }

    private sealed class SyncProgress(Action<JSONMessage> report) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value) => report(value);
    }
}
