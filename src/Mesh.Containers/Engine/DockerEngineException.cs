using System.Net;

namespace Mesh.Containers;

/// <summary>An operation the engine refused or failed, carrying the engine's own message
/// (for example "No such image: web:1" or "port is already allocated").</summary>
public class DockerEngineException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="operation">What was being done, for example "Creating container 'web-1'".</param>
    /// <param name="statusCode">The HTTP status the engine answered with, or <see langword="null"/> when it answered inside a stream.</param>
    /// <param name="engineMessage">The engine's message.</param>
    /// <param name="innerException">The transport-level exception, if any.</param>
    public DockerEngineException(string operation, HttpStatusCode? statusCode, string engineMessage, Exception? innerException = null)
        : base($"{operation} failed: {engineMessage}", innerException)
    {
        Operation = operation;
        StatusCode = statusCode;
        EngineMessage = engineMessage;
    }

    /// <summary>What was being done.</summary>
    public string Operation { get; }

    /// <summary>The HTTP status the engine answered with (404 for a missing image or container, 409 for a name conflict,
    /// 500 for most other failures such as a port conflict), or <see langword="null"/>.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The engine's message, verbatim.</summary>
    public string EngineMessage { get; }
}
