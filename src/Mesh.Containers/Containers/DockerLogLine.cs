namespace Mesh.Containers;

/// <summary>Which output stream a log line came from.</summary>
public enum DockerLogStream
{
    /// <summary>Standard output.</summary>
    StandardOutput,

    /// <summary>Standard error.</summary>
    StandardError,
}

/// <summary>One line of a container's output (without the line terminator).</summary>
/// <param name="Stream">Standard output or standard error.</param>
/// <param name="Text">The line.</param>
public readonly record struct DockerLogLine(DockerLogStream Stream, string Text)
{
    /// <inheritdoc />
    public override string ToString() => Text;
}
