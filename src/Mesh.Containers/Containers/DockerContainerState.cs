namespace Mesh.Containers;

/// <summary>A snapshot of a container's state as the engine reports it.</summary>
/// <param name="Status">The engine's status word: <c>created</c>, <c>running</c>, <c>paused</c>, <c>restarting</c>, <c>removing</c>, <c>exited</c> or <c>dead</c>.</param>
/// <param name="ExitCode">The exit code of the last run (0 while running).</param>
/// <param name="Health">The health status (<c>starting</c>, <c>healthy</c>, <c>unhealthy</c>), or <see langword="null"/> without a health check.</param>
/// <param name="OomKilled">Whether the kernel killed it for lack of memory.</param>
public sealed record DockerContainerState(string Status, long ExitCode, string? Health, bool OomKilled)
{
    /// <summary>Whether the container runs (paused counts as running, as with the engine).</summary>
    public bool IsRunning => Status is "running" or "paused";

    /// <summary>Whether the container is paused.</summary>
    public bool IsPaused => Status == "paused";
}
