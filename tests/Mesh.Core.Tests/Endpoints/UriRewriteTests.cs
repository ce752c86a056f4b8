using Mesh.Endpoints.Internal;

namespace Mesh.Tests.Endpoints;

/// <summary>The rewrite of a logical URI to an endpoint reads the caller's path and query without making a string; it
/// must give exactly the URI that parsing the endpoint plus the parsed <see cref="Uri.PathAndQuery"/> gives.</summary>
public sealed class UriRewriteTests
{
    public static TheoryData<string> LogicalUris =>
    [
        "http://catalog/items",
        "http://catalog",
        "http://catalog/",
        "http://catalog?q=1",
        "http://catalog/items?page=3&sort=name",
        "http://catalog/items#fragment",
        "http://catalog/items?x=1#frag?not-query",
        "http://catalog:8080/a/b/../c/./d",
        "http://user:secret@catalog/items",
        "HTTP://CATALOG/Items/%7Euser",
        "http://catalog/a%20b/c d",
        "http://catalog/ünïcödé?q=ä",
        "http://catalog/%2F%2e%2E/x",
        "https://catalog/items?",
        "http://[::1]:5000/items",
        "  http://catalog/padded  ",
        "http://catalog/items\\x\\y",
        "http://catalog//double//slash",
    ];

    [Theory]
    [MemberData(nameof(LogicalUris))]
    public void The_rewritten_uri_is_the_endpoint_with_the_logical_path_and_query(string text)
    {
        var logical = new Uri(text, UriKind.Absolute);
        foreach (var address in new[] { "http://127.0.0.1:5001", "https://[::1]:7443", "http://replica-3.local:80" })
        {
            var endpoint = new EndpointState(new MeshEndpoint(new Uri(address)));
            var expected = new Uri(endpoint.Rewrite(new Uri("http://other/zzz")).GetLeftPart(UriPartial.Authority) + logical.PathAndQuery);

            var rewritten = endpoint.Rewrite(logical);
            var again = endpoint.Rewrite(new Uri(text, UriKind.Absolute)); // the cached rewrite for the same path

            Assert.Equal(expected.AbsoluteUri, rewritten.AbsoluteUri);
            Assert.Equal(expected.PathAndQuery, rewritten.PathAndQuery);
            Assert.Same(rewritten, again);
        }
    }

    [Fact]
    public void A_different_path_is_not_served_from_the_cache()
    {
        var endpoint = new EndpointState(new MeshEndpoint(new Uri("http://127.0.0.1:5001")));

        var first = endpoint.Rewrite(new Uri("http://catalog/items?page=1"));
        var second = endpoint.Rewrite(new Uri("http://catalog/items?page=10"));
        var prefix = endpoint.Rewrite(new Uri("http://catalog/items?page="));

        Assert.Equal("/items?page=1", first.PathAndQuery);
        Assert.Equal("/items?page=10", second.PathAndQuery);
        Assert.Equal("/items?page=", prefix.PathAndQuery);
    }
}
