namespace Mesh.Containers;

/// <summary>An image on the engine, as built or imported by this library.</summary>
/// <param name="Id">The engine's image id (<c>sha256:…</c>).</param>
/// <param name="Reference">The reference to create containers from, <c>repository:tag</c>; the tag is the content hash when the builder chose it.</param>
/// <param name="ContentHash">The hash of everything the image was built from (context files, Dockerfile, build arguments, target), or <see langword="null"/> for imports.</param>
/// <param name="FromCache">Whether an image with the same content hash already existed, so nothing was built.</param>
public sealed record DockerImage(string Id, string Reference, string? ContentHash, bool FromCache)
{
    /// <summary>Whether containers of this image should run with an init process as PID 1 (the engine's own, as with
    /// <c>docker run --init</c>). <see cref="DotNetImageBuilder"/> sets it: a .NET app running as PID 1 cannot be killed
    /// by its own <c>SIGABRT</c>, so an unhandled exception would end in a segmentation fault (exit code 139) instead of
    /// the abort (134) it gives on a host. <see cref="DockerContainerBuilder(DockerImage)"/> follows it.</summary>
    public bool RequiresInit { get; init; }

    /// <inheritdoc />
    public override string ToString() => Reference;
}
