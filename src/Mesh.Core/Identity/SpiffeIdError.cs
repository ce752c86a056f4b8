namespace Mesh.Identity;

/// <summary>Why a string is not a SPIFFE ID (see <see cref="SpiffeId.TryParse(string?, out SpiffeId?, out SpiffeIdError)"/>).</summary>
/// <remarks>The rules are those of the SPIFFE ID standard, applied as strictly as go-spiffe applies them.</remarks>
public enum SpiffeIdError
{
    /// <summary>The string is a valid SPIFFE ID.</summary>
    None = 0,

    /// <summary>The string is empty.</summary>
    Empty,

    /// <summary>The string does not start with <c>spiffe://</c> (the scheme is missing, not lowercase, or not followed by <c>//</c>).</summary>
    WrongScheme,

    /// <summary>Nothing follows <c>spiffe://</c> before the path.</summary>
    MissingTrustDomain,

    /// <summary>The trust domain holds a character other than lowercase letters, digits, <c>.</c>, <c>-</c> and <c>_</c>
    /// (this also refuses upper case, ports, user info, percent-encoding, queries and fragments).</summary>
    BadTrustDomainChar,

    /// <summary>The trust domain is longer than 255 bytes.</summary>
    TrustDomainTooLong,

    /// <summary>A path does not start with <c>/</c> (only when a path is given on its own).</summary>
    NoLeadingSlash,

    /// <summary>The path holds an empty segment (<c>//</c>).</summary>
    EmptySegment,

    /// <summary>The path holds a <c>.</c> or <c>..</c> segment.</summary>
    DotSegment,

    /// <summary>A path segment holds a character other than letters, digits, <c>.</c>, <c>-</c> and <c>_</c>
    /// (this also refuses percent-encoding, queries and fragments).</summary>
    BadPathSegmentChar,

    /// <summary>The path ends with <c>/</c>.</summary>
    TrailingSlash,

    /// <summary>The whole ID is longer than 2048 bytes.</summary>
    TooLong,
}
