using Mesh.Identity;

namespace Mesh.Tests.Identity;

public sealed class SpiffeIdTests
{
    public static TheoryData<int> AsciiCodes()
    {
        var data = new TheoryData<int>();
        for (var c = 0; c < 128; c++)
        {
            data.Add(c);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AsciiCodes))]
    public void Trust_domain_character_is_accepted_only_when_lowercase_letter_digit_dot_dash_or_underscore(int code)
    {
        var c = (char)code;
        var expected = c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_';

        var valid = SpiffeId.IsValidTrustDomain($"tr{c}ust", out _);

        Assert.Equal(expected, valid);
    }

    [Theory]
    [MemberData(nameof(AsciiCodes))]
    public void Trust_domain_character_in_an_id_is_accepted_only_when_allowed_and_otherwise_reported_as_bad_trust_domain_char(int code)
    {
        var c = (char)code;
        if (c == '/')
        {
            return; // '/' ends the trust domain; covered by Slash_ends_the_trust_domain
        }

        var allowed = c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_';

        var parsed = SpiffeId.TryParse($"spiffe://tr{c}ust/path", out var id, out var error);

        Assert.Equal(allowed, parsed);
        Assert.Equal(allowed ? SpiffeIdError.None : SpiffeIdError.BadTrustDomainChar, error);
        Assert.Equal(allowed ? $"tr{c}ust" : null, id?.TrustDomain);
    }

    [Theory]
    [MemberData(nameof(AsciiCodes))]
    public void Path_character_is_accepted_only_when_letter_digit_dot_dash_or_underscore(int code)
    {
        var c = (char)code;
        if (c == '/')
        {
            return; // '/' separates segments; covered by the segment tests
        }

        var allowed = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '-' or '_';

        var parsed = SpiffeId.TryParse($"spiffe://trustdomain/pa{c}th", out _, out var error);

        Assert.Equal(allowed, parsed);
        Assert.Equal(allowed ? SpiffeIdError.None : SpiffeIdError.BadPathSegmentChar, error);
    }

    [Theory]
    [InlineData('\u00e9')]
    [InlineData('\u0100')]
    [InlineData('\u2028')]
    [InlineData('\uFF41')]
    public void Non_ascii_characters_are_refused_in_trust_domain_and_path(char c)
    {
        Assert.False(SpiffeId.TryParse($"spiffe://tr{c}ust/path", out _, out var trustDomainError));
        Assert.False(SpiffeId.TryParse($"spiffe://trust/pa{c}th", out _, out var pathError));

        Assert.Equal(SpiffeIdError.BadTrustDomainChar, trustDomainError);
        Assert.Equal(SpiffeIdError.BadPathSegmentChar, pathError);
    }

    [Fact]
    public void Slash_ends_the_trust_domain()
    {
        var id = SpiffeId.Parse("spiffe://tr/ust/path");

        Assert.Equal("tr", id.TrustDomain);
        Assert.Equal("/ust/path", id.Path);
    }

    [Theory]
    [InlineData("spiffe://trustdomain", "trustdomain", "")]
    [InlineData("spiffe://trustdomain/path", "trustdomain", "/path")]
    [InlineData("spiffe://trustdomain/path/element", "trustdomain", "/path/element")]
    [InlineData("spiffe://mesh.test/ns/shop/sa/catalog", "mesh.test", "/ns/shop/sa/catalog")]
    [InlineData("spiffe://a-b_c.d/A_b-C.9", "a-b_c.d", "/A_b-C.9")]
    [InlineData("spiffe://td/...", "td", "/...")]
    [InlineData("spiffe://td/.a", "td", "/.a")]
    [InlineData("spiffe://td/a..", "td", "/a..")]
    [InlineData("spiffe://1.2.3.4/x", "1.2.3.4", "/x")]
    public void Valid_ids_are_split_into_trust_domain_and_path(string text, string trustDomain, string path)
    {
        var id = SpiffeId.Parse(text);

        Assert.Equal(trustDomain, id.TrustDomain);
        Assert.Equal(path, id.Path);
        Assert.Equal(text, id.ToString());
    }

    [Theory]
    [InlineData("", SpiffeIdError.Empty)]
    [InlineData("spiffe", SpiffeIdError.WrongScheme)]
    [InlineData("SPIFFE://trustdomain/path", SpiffeIdError.WrongScheme)]
    [InlineData("Spiffe://trustdomain/path", SpiffeIdError.WrongScheme)]
    [InlineData("spiffe:/trustdomain/path", SpiffeIdError.WrongScheme)]
    [InlineData("spiffe:trustdomain/path", SpiffeIdError.WrongScheme)]
    [InlineData("https://trustdomain/path", SpiffeIdError.WrongScheme)]
    [InlineData(" spiffe://trustdomain/path", SpiffeIdError.WrongScheme)]
    [InlineData("spiffe://", SpiffeIdError.MissingTrustDomain)]
    [InlineData("spiffe:///path", SpiffeIdError.MissingTrustDomain)]
    [InlineData("spiffe://Trustdomain/path", SpiffeIdError.BadTrustDomainChar)]
    [InlineData("spiffe://trustdomain:8080/path", SpiffeIdError.BadTrustDomainChar)]
    [InlineData("spiffe://user@trustdomain/path", SpiffeIdError.BadTrustDomainChar)]
    [InlineData("spiffe://user:password@trustdomain/path", SpiffeIdError.BadTrustDomainChar)]
    [InlineData("spiffe://trust%64omain/path", SpiffeIdError.BadTrustDomainChar)]
    [InlineData("spiffe://trustdomain?query", SpiffeIdError.BadTrustDomainChar)]
    [InlineData("spiffe://trustdomain#fragment", SpiffeIdError.BadTrustDomainChar)]
    [InlineData("spiffe://[::1]/path", SpiffeIdError.BadTrustDomainChar)]
    [InlineData("spiffe://trustdomain/", SpiffeIdError.TrailingSlash)]
    [InlineData("spiffe://trustdomain/path/", SpiffeIdError.TrailingSlash)]
    [InlineData("spiffe://trustdomain//", SpiffeIdError.EmptySegment)]
    [InlineData("spiffe://trustdomain//path", SpiffeIdError.EmptySegment)]
    [InlineData("spiffe://trustdomain/path//element", SpiffeIdError.EmptySegment)]
    [InlineData("spiffe://trustdomain/.", SpiffeIdError.DotSegment)]
    [InlineData("spiffe://trustdomain/..", SpiffeIdError.DotSegment)]
    [InlineData("spiffe://trustdomain/./path", SpiffeIdError.DotSegment)]
    [InlineData("spiffe://trustdomain/../path", SpiffeIdError.DotSegment)]
    [InlineData("spiffe://trustdomain/path/.", SpiffeIdError.DotSegment)]
    [InlineData("spiffe://trustdomain/path/..", SpiffeIdError.DotSegment)]
    [InlineData("spiffe://trustdomain/pa%74h", SpiffeIdError.BadPathSegmentChar)]
    [InlineData("spiffe://trustdomain/path%2Felement", SpiffeIdError.BadPathSegmentChar)]
    [InlineData("spiffe://trustdomain/path?query=1", SpiffeIdError.BadPathSegmentChar)]
    [InlineData("spiffe://trustdomain/path#fragment", SpiffeIdError.BadPathSegmentChar)]
    [InlineData("spiffe://trustdomain/path element", SpiffeIdError.BadPathSegmentChar)]
    public void Invalid_ids_are_refused_with_the_rule_they_break(string text, SpiffeIdError expected)
    {
        var parsed = SpiffeId.TryParse(text, out var id, out var error);

        Assert.False(parsed);
        Assert.Null(id);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Null_is_refused_as_empty()
    {
        Assert.False(SpiffeId.TryParse(null, out _, out var error));
        Assert.Equal(SpiffeIdError.Empty, error);
    }

    [Fact]
    public void Trust_domain_of_255_bytes_is_accepted()
    {
        var trustDomain = new string('a', 255);

        Assert.Equal(trustDomain, SpiffeId.Parse($"spiffe://{trustDomain}/x").TrustDomain);
    }

    [Fact]
    public void Trust_domain_of_256_bytes_is_refused()
    {
        Assert.False(SpiffeId.TryParse($"spiffe://{new string('a', 256)}/x", out _, out var error));
        Assert.Equal(SpiffeIdError.TrustDomainTooLong, error);
    }

    [Fact]
    public void Id_of_2048_bytes_is_accepted()
    {
        var prefix = "spiffe://mesh.test/";
        var text = prefix + new string('p', SpiffeId.MaxLength - prefix.Length);

        var id = SpiffeId.Parse(text);

        Assert.Equal(2048, id.ToString().Length);
    }

    [Fact]
    public void Id_of_2049_bytes_is_refused()
    {
        var prefix = "spiffe://mesh.test/";
        var text = prefix + new string('p', SpiffeId.MaxLength + 1 - prefix.Length);

        Assert.False(SpiffeId.TryParse(text, out _, out var error));
        Assert.Equal(SpiffeIdError.TooLong, error);
    }

    [Fact]
    public void Parse_throws_a_format_exception_carrying_the_rule_and_a_message_naming_the_problem()
    {
        var exception = Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.Parse("spiffe://mesh.test:8443/catalog"));

        Assert.Equal(SpiffeIdError.BadTrustDomainChar, exception.Error);
        Assert.Contains("spiffe://mesh.test:8443/catalog", exception.Message, StringComparison.Ordinal);
        Assert.Contains("a port is not allowed", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("spiffe://Mesh.test/x", "lowercase")]
    [InlineData("spiffe://mesh.test/a%20b", "percent-encoding is not allowed")]
    [InlineData("spiffe://mesh.test/a?b", "a query is not allowed")]
    [InlineData("spiffe://mesh.test/a#b", "a fragment is not allowed")]
    [InlineData("spiffe://u@mesh.test/a", "user info is not allowed")]
    [InlineData("spiffe://mesh.test/a/", "trailing slash")]
    public void Parse_messages_say_what_to_fix(string text, string hint)
    {
        var exception = Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.Parse(text));

        Assert.Contains(hint, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Equal_ids_are_equal_and_hash_alike()
    {
        var a = SpiffeId.Parse("spiffe://mesh.test/catalog");
        var b = SpiffeId.Parse("spiffe://mesh.test/catalog");

        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Fact]
    public void Ids_differing_in_path_case_are_different()
    {
        Assert.NotEqual(SpiffeId.Parse("spiffe://mesh.test/Catalog"), SpiffeId.Parse("spiffe://mesh.test/catalog"));
    }

    [Fact]
    public void FromPath_builds_the_id()
    {
        Assert.Equal("spiffe://mesh.test/ns/shop", SpiffeId.FromPath("mesh.test", "/ns/shop").ToString());
    }

    [Fact]
    public void FromPath_refuses_a_path_without_leading_slash()
    {
        var exception = Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.FromPath("mesh.test", "ns/shop"));

        Assert.Equal(SpiffeIdError.NoLeadingSlash, exception.Error);
    }

    [Fact]
    public void FromPath_refuses_an_invalid_trust_domain()
    {
        var exception = Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.FromPath("Mesh.test", "/x"));

        Assert.Equal(SpiffeIdError.BadTrustDomainChar, exception.Error);
    }

    [Fact]
    public void FromSegments_joins_segments_with_slashes()
    {
        Assert.Equal("spiffe://mesh.test/ns/shop/sa/catalog", SpiffeId.FromSegments("mesh.test", "ns", "shop", "sa", "catalog").ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("a%2F")]
    public void FromSegments_refuses_invalid_segments(string segment)
    {
        Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.FromSegments("mesh.test", "ok", segment));
    }

    [Fact]
    public void IsMemberOf_compares_the_trust_domain()
    {
        var id = SpiffeId.Parse("spiffe://mesh.test/catalog");

        Assert.True(id.IsMemberOf("mesh.test"));
        Assert.False(id.IsMemberOf("other.test"));
    }
}
