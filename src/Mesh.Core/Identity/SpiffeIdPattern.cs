using System.Diagnostics.CodeAnalysis;

namespace Mesh.Identity;

/// <summary>
/// Which SPIFFE IDs a peer may present: one exact ID (<c>spiffe://mesh.test/catalog</c>), every ID below a path
/// (<c>spiffe://mesh.test/ns/shop/*</c>) or every ID of a trust domain (<c>spiffe://mesh.test/*</c>).
/// Used to authorize callers on the server and to check the server's identity on the client. Immutable, with value equality.
/// </summary>
public sealed class SpiffeIdPattern : IEquatable<SpiffeIdPattern>
{
    private readonly string _text;

    private SpiffeIdPattern(SpiffeIdPatternKind kind, string trustDomain, string path)
    {
        Kind = kind;
        TrustDomain = trustDomain;
        Path = path;
        _text = kind switch
        {
            SpiffeIdPatternKind.Exact => SpiffeId.SchemePrefix + trustDomain + path,
            _ => SpiffeId.SchemePrefix + trustDomain + path + "/*",
        };
    }

    /// <summary>What the pattern matches.</summary>
    public SpiffeIdPatternKind Kind { get; }

    /// <summary>The trust domain every matching ID belongs to.</summary>
    public string TrustDomain { get; }

    /// <summary>For <see cref="SpiffeIdPatternKind.Exact"/> the path of the ID; for <see cref="SpiffeIdPatternKind.Prefix"/>
    /// the path matching IDs lie below (without the trailing <c>/*</c>); empty for <see cref="SpiffeIdPatternKind.TrustDomain"/>.</summary>
    public string Path { get; }

    /// <summary>A pattern matching exactly <paramref name="id"/>.</summary>
    /// <param name="id">The only ID to accept.</param>
    /// <returns>The pattern.</returns>
    public static SpiffeIdPattern Exact(SpiffeId id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return new SpiffeIdPattern(SpiffeIdPatternKind.Exact, id.TrustDomain, id.Path);
    }

    /// <summary>A pattern matching every ID strictly below the path of <paramref name="parent"/> (<c>parent/*</c>).
    /// When <paramref name="parent"/> has no path, the pattern matches the whole trust domain.</summary>
    /// <param name="parent">The ID whose descendants to accept, such as <c>spiffe://mesh.test/ns/shop</c>.</param>
    /// <returns>The pattern.</returns>
    public static SpiffeIdPattern Below(SpiffeId parent)
    {
        ArgumentNullException.ThrowIfNull(parent);
        return parent.Path.Length == 0
            ? new SpiffeIdPattern(SpiffeIdPatternKind.TrustDomain, parent.TrustDomain, "")
            : new SpiffeIdPattern(SpiffeIdPatternKind.Prefix, parent.TrustDomain, parent.Path);
    }

    /// <summary>A pattern matching every ID of a trust domain.</summary>
    /// <param name="trustDomain">The trust domain, such as <c>mesh.test</c>.</param>
    /// <returns>The pattern.</returns>
    /// <exception cref="SpiffeIdFormatException">The name is not a valid trust domain.</exception>
    public static SpiffeIdPattern AnyInTrustDomain(string trustDomain)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        var error = SpiffeId.ValidateTrustDomain(trustDomain, out var position);
        return error == SpiffeIdError.None
            ? new SpiffeIdPattern(SpiffeIdPatternKind.TrustDomain, trustDomain, "")
            : throw new SpiffeIdFormatException(error, SpiffeId.DescribeTrustDomain(trustDomain, error, position));
    }

    /// <summary>Parses a pattern: a SPIFFE ID (exact), a SPIFFE ID followed by <c>/*</c> (prefix), or <c>spiffe://trust-domain/*</c> (trust domain).</summary>
    /// <param name="value">The text, such as <c>spiffe://mesh.test/catalog</c> or <c>spiffe://mesh.test/ns/shop/*</c>.</param>
    /// <returns>The pattern.</returns>
    /// <exception cref="SpiffeIdFormatException">The text is not a pattern; the message says why.</exception>
    public static SpiffeIdPattern Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TryParse(value, out var pattern, out var error, out var message)
            ? pattern
            : throw new SpiffeIdFormatException(error, message);
    }

    /// <summary>Tries to parse a pattern (see <see cref="Parse(string)"/>).</summary>
    /// <param name="value">The text.</param>
    /// <param name="pattern">The pattern when the text is valid.</param>
    /// <returns><see langword="true"/> when the text is a valid pattern.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, [NotNullWhen(true)] out SpiffeIdPattern? pattern) =>
        TryParse(value, out pattern, out _, out _);

    private static bool TryParse(string? value, [NotNullWhen(true)] out SpiffeIdPattern? pattern, out SpiffeIdError error, [NotNullWhen(false)] out string? message)
    {
        pattern = null;
        value ??= "";
        var wildcard = value.EndsWith("/*", StringComparison.Ordinal);
        var idText = wildcard ? value[..^2] : value;
        error = SpiffeId.Validate(idText, out _, out var position);
        if (error != SpiffeIdError.None)
        {
            // With a wildcard the ID part alone is described; name the whole pattern too, as the user wrote it.
            message = (wildcard ? $"'{SpiffeId.Shorten(value)}' is not a SPIFFE ID pattern: " : "") +
                SpiffeId.Describe(idText, error, position) +
                " A pattern is a SPIFFE ID (exact), a SPIFFE ID followed by '/*' (every ID below it) or spiffe://<trust-domain>/* (the whole trust domain).";
            return false;
        }

        var id = SpiffeId.Parse(idText);
        pattern = wildcard ? Below(id) : Exact(id);
        message = null;
        return true;
    }

    /// <summary>Whether <paramref name="id"/> matches the pattern.</summary>
    /// <param name="id">A peer's ID.</param>
    /// <returns><see langword="true"/> when it matches.</returns>
    public bool IsMatch(SpiffeId id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (!id.IsMemberOf(TrustDomain))
        {
            return false;
        }

        return Kind switch
        {
            SpiffeIdPatternKind.Exact => string.Equals(id.Path, Path, StringComparison.Ordinal),
            SpiffeIdPatternKind.Prefix => id.Path.Length > Path.Length + 1 &&
                                          id.Path.StartsWith(Path, StringComparison.Ordinal) &&
                                          id.Path[Path.Length] == '/',
            _ => true,
        };
    }

    /// <summary>Whether <paramref name="id"/> matches at least one of <paramref name="patterns"/>.</summary>
    /// <param name="patterns">The accepted patterns.</param>
    /// <param name="id">A peer's ID.</param>
    /// <returns><see langword="true"/> when one matches.</returns>
    public static bool IsMatchAny(IReadOnlyList<SpiffeIdPattern> patterns, SpiffeId id)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        for (var i = 0; i < patterns.Count; i++)
        {
            if (patterns[i].IsMatch(id))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The pattern as text: <c>spiffe://td/path</c>, <c>spiffe://td/path/*</c> or <c>spiffe://td/*</c>.</summary>
    /// <returns>The canonical text of the pattern, which <see cref="Parse(string)"/> reads back.</returns>
    public override string ToString() => _text;

    /// <inheritdoc />
    public bool Equals(SpiffeIdPattern? other) => other is not null && string.Equals(_text, other._text, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SpiffeIdPattern other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(_text);
}
