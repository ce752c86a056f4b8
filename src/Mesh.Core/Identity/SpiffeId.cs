using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Mesh.Identity;

/// <summary>
/// A SPIFFE ID: <c>spiffe://</c>, a trust domain and an optional path, such as <c>spiffe://mesh.test/ns/shop/sa/catalog</c>.
/// Parsing is as strict as go-spiffe: the scheme is lowercase <c>spiffe</c>; the trust domain holds only
/// <c>[a-z0-9._-]</c> and is at most 255 bytes; path segments hold only <c>[a-zA-Z0-9._-]</c> and are neither empty nor
/// <c>.</c> or <c>..</c>; there is no trailing slash, percent-encoding, port, user info, query or fragment; the whole ID
/// is at most 2048 bytes. Immutable, with ordinal value equality.
/// </summary>
public sealed class SpiffeId : IEquatable<SpiffeId>
{
    /// <summary>The longest SPIFFE ID accepted, in bytes (every valid ID is ASCII, so also in characters).</summary>
    public const int MaxLength = 2048;

    /// <summary>The longest trust domain accepted, in bytes.</summary>
    public const int MaxTrustDomainLength = 255;

    internal const string SchemePrefix = "spiffe://";

    private readonly string _value;

    private SpiffeId(string value, int pathIndex)
    {
        _value = value;
        TrustDomain = value[SchemePrefix.Length..pathIndex];
        Path = value[pathIndex..];
    }

    /// <summary>The trust domain, such as <c>mesh.test</c>.</summary>
    public string TrustDomain { get; }

    /// <summary>The path, such as <c>/ns/shop/sa/catalog</c>; empty for the ID of the trust domain itself.</summary>
    public string Path { get; }

    /// <summary>Parses a SPIFFE ID.</summary>
    /// <param name="value">The text, such as <c>spiffe://mesh.test/catalog</c>.</param>
    /// <returns>The ID.</returns>
    /// <exception cref="SpiffeIdFormatException">The text breaks a rule of the standard; <see cref="SpiffeIdFormatException.Error"/> says which.</exception>
    public static SpiffeId Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var error = Validate(value, out var pathIndex, out var position);
        return error == SpiffeIdError.None
            ? new SpiffeId(value, pathIndex)
            : throw new SpiffeIdFormatException(error, Describe(value, error, position));
    }

    /// <summary>Tries to parse a SPIFFE ID.</summary>
    /// <param name="value">The text.</param>
    /// <param name="id">The ID when the text is valid.</param>
    /// <returns><see langword="true"/> when the text is a valid SPIFFE ID.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, [NotNullWhen(true)] out SpiffeId? id) =>
        TryParse(value, out id, out _);

    /// <summary>Tries to parse a SPIFFE ID and says which rule was broken when it is not one.</summary>
    /// <param name="value">The text.</param>
    /// <param name="id">The ID when the text is valid.</param>
    /// <param name="error">The rule that was broken, or <see cref="SpiffeIdError.None"/>.</param>
    /// <returns><see langword="true"/> when the text is a valid SPIFFE ID.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, [NotNullWhen(true)] out SpiffeId? id, out SpiffeIdError error)
    {
        error = Validate(value ?? "", out var pathIndex, out _);
        id = error == SpiffeIdError.None ? new SpiffeId(value!, pathIndex) : null;
        return id is not null;
    }

    /// <summary>Creates a SPIFFE ID from a trust domain and a path.</summary>
    /// <param name="trustDomain">The trust domain, such as <c>mesh.test</c>.</param>
    /// <param name="path">The path, empty or starting with <c>/</c>, such as <c>/catalog</c>.</param>
    /// <returns>The ID.</returns>
    /// <exception cref="SpiffeIdFormatException">The trust domain or the path breaks a rule of the standard.</exception>
    public static SpiffeId FromPath(string trustDomain, string path)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        ArgumentNullException.ThrowIfNull(path);
        var error = ValidateTrustDomain(trustDomain, out var position);
        if (error != SpiffeIdError.None)
        {
            throw new SpiffeIdFormatException(error, DescribeTrustDomain(trustDomain, error, position));
        }

        error = ValidatePath(path, out position);
        if (error != SpiffeIdError.None)
        {
            throw new SpiffeIdFormatException(error, DescribePath(path, error, position));
        }

        return Parse(SchemePrefix + trustDomain + path);
    }

    /// <summary>Creates a SPIFFE ID from a trust domain and path segments.</summary>
    /// <param name="trustDomain">The trust domain, such as <c>mesh.test</c>.</param>
    /// <param name="segments">The path segments, such as <c>"ns", "shop", "sa", "catalog"</c>.</param>
    /// <returns>The ID.</returns>
    /// <exception cref="SpiffeIdFormatException">The trust domain or a segment breaks a rule of the standard.</exception>
    public static SpiffeId FromSegments(string trustDomain, params ReadOnlySpan<string> segments)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        var path = new System.Text.StringBuilder();
        foreach (var segment in segments)
        {
            ArgumentNullException.ThrowIfNull(segment, nameof(segments));
            if (segment.Contains('/', StringComparison.Ordinal))
            {
                throw new SpiffeIdFormatException(SpiffeIdError.BadPathSegmentChar, $"The path segment '{segment}' contains '/'; pass each segment separately.");
            }

            path.Append('/').Append(segment);
        }

        return FromPath(trustDomain, path.ToString());
    }

    /// <summary>Checks that a trust domain name follows the standard (non-empty, <c>[a-z0-9._-]</c>, at most 255 bytes).</summary>
    /// <param name="trustDomain">The candidate name, such as <c>mesh.test</c>.</param>
    /// <param name="message">What is wrong, when something is.</param>
    /// <returns><see langword="true"/> when the name is a valid trust domain.</returns>
    public static bool IsValidTrustDomain([NotNullWhen(true)] string? trustDomain, [NotNullWhen(false)] out string? message)
    {
        var error = ValidateTrustDomain(trustDomain ?? "", out var position);
        message = error == SpiffeIdError.None ? null : DescribeTrustDomain(trustDomain ?? "", error, position);
        return error == SpiffeIdError.None;
    }

    /// <summary>Whether this ID belongs to the given trust domain.</summary>
    /// <param name="trustDomain">A trust domain name, such as <c>mesh.test</c>.</param>
    /// <returns><see langword="true"/> when <see cref="TrustDomain"/> equals <paramref name="trustDomain"/>.</returns>
    public bool IsMemberOf(string trustDomain) => string.Equals(TrustDomain, trustDomain, StringComparison.Ordinal);

    /// <summary>The ID as text, such as <c>spiffe://mesh.test/catalog</c>.</summary>
    /// <returns>The canonical text of the ID.</returns>
    public override string ToString() => _value;

    /// <inheritdoc />
    public bool Equals(SpiffeId? other) => other is not null && string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SpiffeId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(_value);

    /// <summary>Compares two IDs by value.</summary>
    public static bool operator ==(SpiffeId? left, SpiffeId? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two IDs by value.</summary>
    public static bool operator !=(SpiffeId? left, SpiffeId? right) => !(left == right);

    internal static bool IsTrustDomainChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_';

    internal static bool IsPathSegmentChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '-' or '_';

    /// <summary>Validates a whole ID; <paramref name="position"/> is the index of the offending character when there is one.</summary>
    internal static SpiffeIdError Validate(string value, out int pathIndex, out int position)
    {
        pathIndex = 0;
        position = -1;
        if (value.Length == 0)
        {
            return SpiffeIdError.Empty;
        }

        if (!value.StartsWith(SchemePrefix, StringComparison.Ordinal))
        {
            return SpiffeIdError.WrongScheme;
        }

        if (value.Length > MaxLength)
        {
            return SpiffeIdError.TooLong;
        }

        var i = SchemePrefix.Length;
        for (; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '/')
            {
                break;
            }

            if (!IsTrustDomainChar(c))
            {
                position = i;
                return SpiffeIdError.BadTrustDomainChar;
            }
        }

        if (i == SchemePrefix.Length)
        {
            return SpiffeIdError.MissingTrustDomain;
        }

        if (i - SchemePrefix.Length > MaxTrustDomainLength)
        {
            return SpiffeIdError.TrustDomainTooLong;
        }

        pathIndex = i;
        var error = ValidatePath(value.AsSpan(i), out position);
        if (position >= 0)
        {
            position += i;
        }

        return error;
    }

    internal static SpiffeIdError ValidateTrustDomain(string trustDomain, out int position)
    {
        position = -1;
        if (trustDomain.Length == 0)
        {
            return SpiffeIdError.MissingTrustDomain;
        }

        for (var i = 0; i < trustDomain.Length; i++)
        {
            if (!IsTrustDomainChar(trustDomain[i]))
            {
                position = i;
                return SpiffeIdError.BadTrustDomainChar;
            }
        }

        return trustDomain.Length > MaxTrustDomainLength ? SpiffeIdError.TrustDomainTooLong : SpiffeIdError.None;
    }

    /// <summary>Validates a path (empty, or <c>/segment</c> repeated), the way go-spiffe's ValidatePath does.</summary>
    internal static SpiffeIdError ValidatePath(ReadOnlySpan<char> path, out int position)
    {
        position = -1;
        if (path.IsEmpty)
        {
            return SpiffeIdError.None;
        }

        if (path[0] != '/')
        {
            position = 0;
            return SpiffeIdError.NoLeadingSlash;
        }

        var segmentStart = 0;
        var i = 0;
        for (; i < path.Length; i++)
        {
            var c = path[i];
            if (c == '/')
            {
                var segment = path[segmentStart..i];
                if (segment is "/")
                {
                    position = segmentStart;
                    return SpiffeIdError.EmptySegment;
                }

                if (segment is "/." or "/..")
                {
                    position = segmentStart;
                    return SpiffeIdError.DotSegment;
                }

                segmentStart = i;
                continue;
            }

            if (!IsPathSegmentChar(c))
            {
                position = i;
                return SpiffeIdError.BadPathSegmentChar;
            }
        }

        var last = path[segmentStart..i];
        if (last is "/")
        {
            position = segmentStart;
            return SpiffeIdError.TrailingSlash;
        }

        if (last is "/." or "/..")
        {
            position = segmentStart;
            return SpiffeIdError.DotSegment;
        }

        return SpiffeIdError.None;
    }

    internal static string Describe(string value, SpiffeIdError error, int position)
    {
        var shown = Shorten(value);
        var why = error switch
        {
            SpiffeIdError.Empty => "it is empty",
            SpiffeIdError.WrongScheme => "it must start with 'spiffe://' (the scheme is lowercase 'spiffe', followed by '//')",
            SpiffeIdError.TooLong => string.Create(CultureInfo.InvariantCulture, $"it is {value.Length} characters long; SPIFFE IDs are limited to {MaxLength} bytes"),
            SpiffeIdError.MissingTrustDomain => "the trust domain after 'spiffe://' is missing",
            SpiffeIdError.TrustDomainTooLong => string.Create(CultureInfo.InvariantCulture, $"the trust domain is longer than {MaxTrustDomainLength} bytes"),
            SpiffeIdError.BadTrustDomainChar => TrustDomainCharHint(value[position], position),
            _ => PathWhy(value, error, position),
        };
        return $"'{shown}' is not a SPIFFE ID: {why}. Expected spiffe://<trust-domain>/<path>, for example spiffe://mesh.test/catalog.";
    }

    internal static string DescribeTrustDomain(string trustDomain, SpiffeIdError error, int position)
    {
        var why = error switch
        {
            SpiffeIdError.MissingTrustDomain => "it is empty",
            SpiffeIdError.TrustDomainTooLong => string.Create(CultureInfo.InvariantCulture, $"it is longer than {MaxTrustDomainLength} bytes"),
            _ => TrustDomainCharHint(trustDomain[position], position),
        };
        return $"'{Shorten(trustDomain)}' is not a SPIFFE trust domain: {why}.";
    }

    internal static string DescribePath(string path, SpiffeIdError error, int position) =>
        $"'{Shorten(path)}' is not a SPIFFE ID path: {PathWhy(path, error, position)}.";

    private static string PathWhy(string text, SpiffeIdError error, int position) => error switch
    {
        SpiffeIdError.NoLeadingSlash => "a non-empty path must start with '/'",
        SpiffeIdError.EmptySegment => string.Create(CultureInfo.InvariantCulture, $"the path has an empty segment ('//') at position {position}"),
        SpiffeIdError.DotSegment => string.Create(CultureInfo.InvariantCulture, $"the path has a '.' or '..' segment at position {position}; dot segments are not allowed"),
        SpiffeIdError.TrailingSlash => "the path ends with '/'; remove the trailing slash",
        SpiffeIdError.BadPathSegmentChar => string.Create(CultureInfo.InvariantCulture,
            $"{ShowChar(text[position])} at position {position} is not allowed in a path segment (allowed: letters, digits, '.', '-', '_'){ExtraHint(text[position])}"),
        _ => error.ToString(),
    };

    private static string TrustDomainCharHint(char c, int position)
    {
        var hint = c is >= 'A' and <= 'Z' ? "; trust domains are lowercase" : ExtraHint(c);
        return string.Create(CultureInfo.InvariantCulture,
            $"{ShowChar(c)} at position {position} is not allowed in a trust domain (allowed: lowercase letters, digits, '.', '-', '_'){hint}");
    }

    private static string ExtraHint(char c) => c switch
    {
        ':' => "; a port is not allowed",
        '@' => "; user info is not allowed",
        '%' => "; percent-encoding is not allowed",
        '?' => "; a query is not allowed",
        '#' => "; a fragment is not allowed",
        _ => "",
    };

    private static string ShowChar(char c) => c is > ' ' and < (char)0x7F
        ? $"the character '{c}'"
        : string.Create(CultureInfo.InvariantCulture, $"the character U+{(int)c:X4}");

    internal static string Shorten(string value) => value.Length <= 120 ? value : string.Concat(value.AsSpan(0, 117), "...");
}
