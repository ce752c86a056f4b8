namespace Mesh.Identity;

/// <summary>Thrown by <see cref="SpiffeId.Parse(string)"/> and <see cref="SpiffeIdPattern.Parse(string)"/> when the text breaks a rule of the SPIFFE ID standard.</summary>
public sealed class SpiffeIdFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public SpiffeIdFormatException()
        : this(SpiffeIdError.Empty, "The value is not a SPIFFE ID.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong and how to fix it.</param>
    public SpiffeIdFormatException(string message)
        : this(SpiffeIdError.Empty, message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">What is wrong and how to fix it.</param>
    /// <param name="innerException">The cause.</param>
    public SpiffeIdFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Error = SpiffeIdError.Empty;
    }

    /// <summary>Creates the exception for a rule that was broken.</summary>
    /// <param name="error">The rule that was broken.</param>
    /// <param name="message">What is wrong and how to fix it.</param>
    public SpiffeIdFormatException(SpiffeIdError error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>The rule that was broken.</summary>
    public SpiffeIdError Error { get; }
}
