namespace Mesh.Containers;

/// <summary>Thrown when an image build fails; names the failing step and carries the engine's (or the tool's) message.</summary>
public sealed class DockerImageBuildException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The full message.</param>
    /// <param name="failingStep">The step that failed, for example <c>Step 3/4 : RUN /bin/busybox false</c>, or <see langword="null"/> when unknown.</param>
    /// <param name="engineMessage">The engine's (or tool's) own error message.</param>
    /// <param name="output">The last lines of build output.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public DockerImageBuildException(string message, string? failingStep, string engineMessage, IReadOnlyList<string> output, Exception? innerException = null)
        : base(message, innerException)
    {
        ArgumentNullException.ThrowIfNull(output);
        FailingStep = failingStep;
        EngineMessage = engineMessage;
        Output = output;
    }

    /// <summary>The step that failed, or <see langword="null"/> when unknown.</summary>
    public string? FailingStep { get; }

    /// <summary>The engine's (or tool's) own error message.</summary>
    public string EngineMessage { get; }

    /// <summary>The last lines of build output.</summary>
    public IReadOnlyList<string> Output { get; }
}
