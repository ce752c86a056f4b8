using System.Globalization;
using System.Net;

namespace Mesh.Testing;

/// <summary>A request that failed: when, where (if known) and why — the error status or the exception itself.</summary>
public sealed class TrafficFailure
{
    /// <summary>Creates a failure.</summary>
    /// <param name="at">When it ended.</param>
    /// <param name="replica">The replica that answered, when the failure was an error response.</param>
    /// <param name="reason">The status or exception, as text.</param>
    /// <param name="statusCode">The status of the error response, when there was a response.</param>
    /// <param name="exception">The exception the request ended with, when it threw.</param>
    public TrafficFailure(DateTimeOffset at, string? replica, string reason, HttpStatusCode? statusCode = null, Exception? exception = null)
    {
        ArgumentNullException.ThrowIfNull(reason);
        At = at;
        Replica = replica;
        Reason = reason;
        StatusCode = statusCode;
        Exception = exception;
    }

    /// <summary>When it ended.</summary>
    public DateTimeOffset At { get; }

    /// <summary>The replica that answered, when the failure was an error response; <see langword="null"/> otherwise.</summary>
    public string? Replica { get; }

    /// <summary>The status (<c>HTTP 500 Internal Server Error</c>) or the exception (<c>{type}: {message}</c>), as text.</summary>
    public string Reason { get; }

    /// <summary>The status of the error response; <see langword="null"/> when the request threw.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The exception the request ended with (for example an <see cref="HttpRequestException"/> or the mesh's
    /// <c>MeshAttemptTimeoutException</c>), with its inner exceptions; <see langword="null"/> when a response arrived.</summary>
    public Exception? Exception { get; }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{At:HH:mm:ss.fff} {Replica ?? "-"}: {Reason}");
}
