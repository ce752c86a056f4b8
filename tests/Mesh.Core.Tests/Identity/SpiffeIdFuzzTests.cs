using System.Text.RegularExpressions;
using CsCheck;
using Mesh.Identity;
using Mesh.Tests.Fuzzing;

namespace Mesh.Tests.Identity;

/// <summary>
/// Property-based fuzzing of <see cref="SpiffeId"/> and <see cref="SpiffeIdPattern"/> parsing (docs/fuzzing.md):
/// any string, and strings assembled from the pieces the rules are about (schemes, trust-domain and path characters,
/// slashes, dot segments, percent signs, ports, queries, wildcards, non-ASCII, lengths around the limits).
/// The oracle is the standard's grammar written as a regular expression, independent of the parser's scanning code.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed partial class SpiffeIdFuzzTests
{
    /// <summary>Pieces of near-valid IDs: what the rules treat specially, and plain valid runs.</summary>
    private static readonly Gen<string> Piece = Gen.Frequency(
        (8, Gen.String[Gen.Char["abcdmz019.-_"], 1, 8]),
        (2, Gen.String[Gen.Char["ABCXYZ"], 1, 3]),
        (6, Gen.Const("/")),
        (2, Gen.OneOf("spiffe://", "SPIFFE://", "spiffe:", "spiffe:/", "Spiffe://", "http://")),
        (3, Gen.OneOf(".", "..", "/.", "/..", "/./", "/../", "//", "/*", "*")),
        (2, Gen.OneOf("%2F", "%41", ":8080", "@", "user@", "?q=1", "#frag", "\\", " ", "\t", "\n", "+", "~", "!")),
        (1, Gen.OneOf("\0", "\u00e9", "\u0130", "\u212A", "\ud83d\ude00", "\ud800", "\udfff", "\u200b", "\uff0f")),
        (1, Gen.Int[240, 270].Select(n => new string('t', n))),
        (1, Gen.Int[1, 2100].Select(n => new string('p', n))));

    /// <summary>Near-valid IDs: usually the scheme, then pieces.</summary>
    private static readonly Gen<string> NearId =
        Gen.Select(Gen.Int[0, 3], Piece.Array[0, 12], (mode, pieces) => mode switch
        {
            0 => "spiffe://mesh.test" + string.Concat(pieces),
            1 or 2 => "spiffe://" + string.Concat(pieces),
            _ => string.Concat(pieces),
        });

    /// <summary>Any string at all, short and long, any UTF-16 code unit.</summary>
    private static readonly Gen<string> AnyString = Gen.Frequency(
        (3, Gen.String[Gen.Char, 0, 40]),
        (1, Gen.String[Gen.Char, 0, 3000]),
        (2, Gen.String[Gen.Char[(char)0, (char)127], 0, 60]));

    private static readonly Gen<string> Input = Gen.Frequency((3, NearId), (1, AnyString));

    /// <summary>Valid IDs built from their parts.</summary>
    private static readonly Gen<(string TrustDomain, string[] Segments)> ValidParts =
        Gen.Select(
            Gen.String[Gen.Char["abcz09.-_"], 1, 20],
            Gen.String[Gen.Char["abcXYZ09.-_"], 1, 10].Where(s => s is not "." and not "..").Array[0, 6]);

    [Fact]
    public void TryParse_never_throws_and_agrees_with_the_grammar()
    {
        FuzzCheck.Run(Input, text =>
        {
            var ok = SpiffeId.TryParse(text, out var id, out var error);
            Assert.Equal(IsSpiffeId(text), ok);
            Assert.Equal(ok, error == SpiffeIdError.None);
            Assert.Equal(ok, id is not null);
            Assert.Equal(ok, SpiffeId.TryParse(text, out _));
            if (ok)
            {
                Assert.Equal(text, id!.ToString());
            }
        }, cases: 6_000, print: Show);
    }

    [Fact]
    public void Parse_throws_only_SpiffeIdFormatException_with_the_error_code_and_a_message_naming_the_value()
    {
        FuzzCheck.Run(Input, text =>
        {
            SpiffeId.TryParse(text, out _, out var expected);
            if (expected == SpiffeIdError.None)
            {
                Assert.Equal(text, SpiffeId.Parse(text).ToString());
                return;
            }

            var e = Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.Parse(text));
            Assert.Equal(expected, e.Error);
            Assert.Contains(Shortened(text), e.Message, StringComparison.Ordinal);
            Assert.Contains("is not a SPIFFE ID", e.Message, StringComparison.Ordinal);
        }, cases: 4_000, print: Show);
    }

    [Fact]
    public void Rejections_at_a_character_name_that_character_and_its_position()
    {
        FuzzCheck.Run(NearId, text =>
        {
            SpiffeId.TryParse(text, out _, out var error);
            if (error is not (SpiffeIdError.BadTrustDomainChar or SpiffeIdError.BadPathSegmentChar))
            {
                return;
            }

            var message = Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.Parse(text)).Message;
            var position = FirstBadCharacter(text);
            Assert.Contains($"at position {position}", message, StringComparison.Ordinal);
            var c = text[position];
            Assert.Contains(c is > ' ' and < (char)0x7F ? $"'{c}'" : $"U+{(int)c:X4}", message, StringComparison.Ordinal);
        }, cases: 3_000, print: Show);
    }

    [Fact]
    public void Valid_ids_round_trip_through_text_parts_and_segments()
    {
        FuzzCheck.Run(ValidParts, parts =>
        {
            var path = string.Concat(parts.Segments.Select(s => "/" + s));
            var text = "spiffe://" + parts.TrustDomain + path;
            var id = SpiffeId.Parse(text);

            Assert.Equal(parts.TrustDomain, id.TrustDomain);
            Assert.Equal(path, id.Path);
            Assert.Equal(id, SpiffeId.Parse(id.ToString()));
            Assert.Equal(id, SpiffeId.FromPath(parts.TrustDomain, path));
            Assert.Equal(id, SpiffeId.FromSegments(parts.TrustDomain, parts.Segments));
            Assert.True(id.IsMemberOf(parts.TrustDomain));
            Assert.True(SpiffeId.IsValidTrustDomain(parts.TrustDomain, out _));
            Assert.Equal(id.GetHashCode(), SpiffeId.Parse(text).GetHashCode());
        }, cases: 3_000, print: p => $"td={p.TrustDomain} segments=[{string.Join(", ", p.Segments)}]");
    }

    [Fact]
    public void FromPath_FromSegments_and_IsValidTrustDomain_throw_only_the_documented_exception()
    {
        var gen = Gen.Select(Gen.Frequency((3, Gen.String[Gen.Char["abcz09.-_"], 0, 12]), (1, Piece)), Input, Piece.Array[0, 4]);
        FuzzCheck.Run(gen, input =>
        {
            var (trustDomain, path, segments) = input;
            var tdValid = IsTrustDomain(trustDomain);
            Assert.Equal(tdValid, SpiffeId.IsValidTrustDomain(trustDomain, out var message));
            Assert.Equal(tdValid, message is null);

            var fromPath = Record.Exception(() => SpiffeId.FromPath(trustDomain, path));
            var expected = IsSpiffeId("spiffe://" + trustDomain + path) && IsTrustDomain(trustDomain) && (path.Length == 0 || path[0] == '/');
            if (expected)
            {
                Assert.Null(fromPath);
            }
            else
            {
                var e = Assert.IsType<SpiffeIdFormatException>(fromPath);
                Assert.NotEqual(SpiffeIdError.None, e.Error);
            }

            var fromSegments = Record.Exception(() => SpiffeId.FromSegments(trustDomain, segments));
            if (fromSegments is not null)
            {
                Assert.IsType<SpiffeIdFormatException>(fromSegments);
            }
            else
            {
                Assert.True(IsSpiffeId("spiffe://" + trustDomain + string.Concat(segments.Select(s => "/" + s))));
            }
        }, cases: 3_000, print: i => $"td={Show(i.Item1)} path={Show(i.Item2)} segments=[{string.Join(", ", i.Item3.Select(Show))}]");
    }

    [Fact]
    public void Pattern_parsing_never_throws_anything_but_the_documented_exception_and_names_the_value()
    {
        var gen = Gen.Frequency((3, Input.Select(Gen.Bool, (text, star) => star ? text + "/*" : text)), (1, Input));
        FuzzCheck.Run(gen, text =>
        {
            var ok = SpiffeIdPattern.TryParse(text, out var pattern);
            var wildcard = text.EndsWith("/*", StringComparison.Ordinal);
            Assert.Equal(IsSpiffeId(wildcard ? text[..^2] : text), ok);
            if (ok)
            {
                Assert.Equal(text, pattern!.ToString());
                Assert.Equal(pattern, SpiffeIdPattern.Parse(pattern.ToString()));
                Assert.Equal(wildcard
                    ? (pattern.Path.Length == 0 ? SpiffeIdPatternKind.TrustDomain : SpiffeIdPatternKind.Prefix)
                    : SpiffeIdPatternKind.Exact, pattern.Kind);
                return;
            }

            var e = Assert.Throws<SpiffeIdFormatException>(() => SpiffeIdPattern.Parse(text));
            Assert.NotEqual(SpiffeIdError.None, e.Error);
            Assert.Contains(Shortened(text), e.Message, StringComparison.Ordinal);
        }, cases: 4_000, print: Show);
    }

    [Fact]
    public void Patterns_match_exactly_the_ids_their_kind_describes()
    {
        var gen = Gen.Select(ValidParts, ValidParts, Gen.Int[0, 2], Gen.Bool);
        FuzzCheck.Run(gen, input =>
        {
            var (patternParts, idParts, kind, related) = input;
            var patternId = SpiffeId.FromSegments(patternParts.TrustDomain, patternParts.Segments);
            // Half the time the candidate is a relative of the pattern's ID (same domain, a path extending it), so matches occur.
            var id = related
                ? SpiffeId.FromSegments(patternParts.TrustDomain, [.. patternParts.Segments, .. idParts.Segments])
                : SpiffeId.FromSegments(idParts.TrustDomain, idParts.Segments);
            var pattern = kind switch
            {
                0 => SpiffeIdPattern.Exact(patternId),
                1 => SpiffeIdPattern.Below(patternId),
                _ => SpiffeIdPattern.AnyInTrustDomain(patternId.TrustDomain),
            };

            var sameDomain = id.TrustDomain == patternId.TrustDomain;
            var expected = pattern.Kind switch
            {
                SpiffeIdPatternKind.Exact => id == patternId,
                SpiffeIdPatternKind.Prefix => sameDomain && id.Path.StartsWith(patternId.Path + "/", StringComparison.Ordinal),
                _ => sameDomain,
            };
            Assert.Equal(expected, pattern.IsMatch(id));
            Assert.Equal(expected, SpiffeIdPattern.IsMatchAny([pattern], id));
            Assert.Equal(pattern, SpiffeIdPattern.Parse(pattern.ToString()));
        }, cases: 3_000, print: i => $"pattern td={i.Item1.TrustDomain} [{string.Join(", ", i.Item1.Segments)}], id td={i.Item2.TrustDomain} [{string.Join(", ", i.Item2.Segments)}], kind={i.Item3}, related={i.Item4}");
    }

    // ---------------------------------------------------------------- regressions found by the properties above

    [Theory]
    [InlineData("spiffe:////*")] // shrunk by CsCheck: the message named 'spiffe:///', not the pattern the user wrote
    [InlineData("catalog/*")] // the message named 'catalog' only
    [InlineData("spiffe://Mesh.test/*")]
    public void A_refused_wildcard_pattern_is_named_in_full_in_the_message(string text)
    {
        var e = Assert.Throws<SpiffeIdFormatException>(() => SpiffeIdPattern.Parse(text));

        Assert.Contains($"'{text}'", e.Message, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- the oracle: the standard's grammar

    [GeneratedRegex("^spiffe://(?<td>[a-z0-9._-]+)(?<path>(/[a-zA-Z0-9._-]+)*)\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();

    private static bool IsSpiffeId(string text)
    {
        var match = Grammar().Match(text);
        return match.Success &&
               text.Length <= SpiffeId.MaxLength &&
               match.Groups["td"].Length <= SpiffeId.MaxTrustDomainLength &&
               !match.Groups["path"].Value.Split('/').Any(segment => segment is "." or "..");
    }

    private static bool IsTrustDomain(string text) => text.Length is > 0 and <= SpiffeId.MaxTrustDomainLength && text.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_');

    /// <summary>The first character after the scheme that no rule allows where it stands.</summary>
    private static int FirstBadCharacter(string text)
    {
        var inPath = false;
        for (var i = "spiffe://".Length; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '/')
            {
                inPath = true;
                continue;
            }

            var allowed = c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_' || (inPath && c is >= 'A' and <= 'Z');
            if (!allowed)
            {
                return i;
            }
        }

        return -1;
    }

    private static string Shortened(string text) => text.Length <= 120 ? text : text[..117];

    private static string Show(string text) => text.Length > 200
        ? $"<{text.Length} chars> {Escape(text[..80])}...{Escape(text[^40..])}"
        : Escape(text);

    private static string Escape(string text) => "\"" + string.Concat(text.Select(c => c is >= ' ' and < (char)0x7F ? c.ToString() : $"\\u{(int)c:X4}")) + "\"";
}
