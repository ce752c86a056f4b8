namespace Mesh.Discovery;

/// <summary>
/// A discovery source failed for a reason it expects and understands — an unreachable registry, a timeout, a
/// malformed answer — and says so in <see cref="Exception.Message"/>. Providers report such failures with
/// <see cref="IMeshEndpointSink.ReportFailure"/>; the mesh keeps the last known endpoints and logs the message without
/// a stack trace (a Warning when the source starts failing, Debug while it keeps failing, Information when it
/// recovers). Any other exception type is treated as unexpected and logged with its stack trace.
/// </summary>
public class MeshDiscoveryException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MeshDiscoveryException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, for people: which source, which address, why.</param>
    public MeshDiscoveryException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, for people: which source, which address, why.</param>
    /// <param name="innerException">The underlying error.</param>
    public MeshDiscoveryException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
