namespace Mesh.Containers;

/// <summary>Thrown when no Docker (or Podman) engine answered on any endpoint that was tried, or the engine is too old.</summary>
public sealed class DockerEngineUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, including every endpoint tried and how to start an engine.</param>
    /// <param name="endpointsTried">The endpoints that were tried, in order.</param>
    /// <param name="innerException">The failure of the last endpoint, if any.</param>
    public DockerEngineUnavailableException(string message, IReadOnlyList<Uri> endpointsTried, Exception? innerException = null)
        : base(message, innerException)
    {
        ArgumentNullException.ThrowIfNull(endpointsTried);
        EndpointsTried = endpointsTried;
    }

    /// <summary>The endpoints that were tried, in order.</summary>
    public IReadOnlyList<Uri> EndpointsTried { get; }
}
