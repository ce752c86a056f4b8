using Mesh.Identity;

namespace Mesh.Tests.Identity;

public sealed class SpiffeIdPatternTests
{
    private static SpiffeId Id(string text) => SpiffeId.Parse(text);

    [Fact]
    public void Exact_pattern_matches_only_that_id()
    {
        var pattern = SpiffeIdPattern.Parse("spiffe://mesh.test/catalog");

        Assert.Equal(SpiffeIdPatternKind.Exact, pattern.Kind);
        Assert.True(pattern.IsMatch(Id("spiffe://mesh.test/catalog")));
        Assert.False(pattern.IsMatch(Id("spiffe://mesh.test/catalog/v2")));
        Assert.False(pattern.IsMatch(Id("spiffe://mesh.test/catalogue")));
        Assert.False(pattern.IsMatch(Id("spiffe://other.test/catalog")));
    }

    [Fact]
    public void Prefix_pattern_matches_ids_below_the_path()
    {
        var pattern = SpiffeIdPattern.Parse("spiffe://mesh.test/ns/shop/*");

        Assert.Equal(SpiffeIdPatternKind.Prefix, pattern.Kind);
        Assert.True(pattern.IsMatch(Id("spiffe://mesh.test/ns/shop/catalog")));
        Assert.True(pattern.IsMatch(Id("spiffe://mesh.test/ns/shop/sa/catalog")));
    }

    [Fact]
    public void Prefix_pattern_does_not_match_the_parent_itself_nor_a_sibling_sharing_its_name()
    {
        var pattern = SpiffeIdPattern.Parse("spiffe://mesh.test/ns/shop/*");

        Assert.False(pattern.IsMatch(Id("spiffe://mesh.test/ns/shop")));
        Assert.False(pattern.IsMatch(Id("spiffe://mesh.test/ns/shopping/catalog")));
        Assert.False(pattern.IsMatch(Id("spiffe://other.test/ns/shop/catalog")));
    }

    [Fact]
    public void Trust_domain_pattern_matches_every_id_of_that_trust_domain_only()
    {
        var pattern = SpiffeIdPattern.Parse("spiffe://mesh.test/*");

        Assert.Equal(SpiffeIdPatternKind.TrustDomain, pattern.Kind);
        Assert.True(pattern.IsMatch(Id("spiffe://mesh.test")));
        Assert.True(pattern.IsMatch(Id("spiffe://mesh.test/a/b/c")));
        Assert.False(pattern.IsMatch(Id("spiffe://mesh.test.evil/a")));
        Assert.False(pattern.IsMatch(Id("spiffe://other.test/a")));
    }

    [Theory]
    [InlineData("spiffe://mesh.test/catalog")]
    [InlineData("spiffe://mesh.test/ns/shop/*")]
    [InlineData("spiffe://mesh.test/*")]
    public void Pattern_text_round_trips(string text)
    {
        Assert.Equal(text, SpiffeIdPattern.Parse(text).ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("spiffe://mesh.test/cat*")]
    [InlineData("spiffe://mesh.test/*/catalog")]
    [InlineData("spiffe://*")]
    [InlineData("spiffe://mesh.test/**")]
    [InlineData("spiffe://mesh.test/catalog/")]
    [InlineData("spiffe://Mesh.test/*")]
    public void Invalid_patterns_are_refused(string text)
    {
        Assert.False(SpiffeIdPattern.TryParse(text, out _));
        Assert.Throws<SpiffeIdFormatException>(() => SpiffeIdPattern.Parse(text));
    }

    [Fact]
    public void Factories_build_the_same_patterns_as_parsing()
    {
        Assert.Equal(SpiffeIdPattern.Parse("spiffe://mesh.test/catalog"), SpiffeIdPattern.Exact(Id("spiffe://mesh.test/catalog")));
        Assert.Equal(SpiffeIdPattern.Parse("spiffe://mesh.test/ns/*"), SpiffeIdPattern.Below(Id("spiffe://mesh.test/ns")));
        Assert.Equal(SpiffeIdPattern.Parse("spiffe://mesh.test/*"), SpiffeIdPattern.AnyInTrustDomain("mesh.test"));
        Assert.Equal(SpiffeIdPattern.Parse("spiffe://mesh.test/*"), SpiffeIdPattern.Below(Id("spiffe://mesh.test")));
    }

    [Fact]
    public void IsMatchAny_is_true_when_one_pattern_matches()
    {
        SpiffeIdPattern[] patterns = [SpiffeIdPattern.Parse("spiffe://mesh.test/orders"), SpiffeIdPattern.Parse("spiffe://mesh.test/ns/shop/*")];

        Assert.True(SpiffeIdPattern.IsMatchAny(patterns, Id("spiffe://mesh.test/ns/shop/cart")));
        Assert.False(SpiffeIdPattern.IsMatchAny(patterns, Id("spiffe://mesh.test/payments")));
    }
}
