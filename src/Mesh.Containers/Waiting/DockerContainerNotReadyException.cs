namespace Mesh.Containers;

/// <summary>Thrown when a container did not become ready: it exited while being waited on, or the wait timed out.
/// Carries the container's exit code (when it exited) and its last log lines.</summary>
public sealed class DockerContainerNotReadyException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="containerName">The container's name.</param>
    /// <param name="exitCode">The exit code when the container exited; <see langword="null"/> when it still runs.</param>
    /// <param name="lastLogLines">The container's last log lines.</param>
    /// <param name="innerException">The wait's own failure, if any.</param>
    public DockerContainerNotReadyException(string message, string containerName, long? exitCode, IReadOnlyList<string> lastLogLines, Exception? innerException = null)
        : base(message, innerException)
    {
        ArgumentNullException.ThrowIfNull(lastLogLines);
        ContainerName = containerName;
        ExitCode = exitCode;
        LastLogLines = lastLogLines;
    }

    /// <summary>The container's name.</summary>
    public string ContainerName { get; }

    /// <summary>The exit code when the container exited while waited on; <see langword="null"/> when the wait timed out or failed otherwise.</summary>
    public long? ExitCode { get; }

    /// <summary>The container's last log lines (both streams), oldest first.</summary>
    public IReadOnlyList<string> LastLogLines { get; }
}
