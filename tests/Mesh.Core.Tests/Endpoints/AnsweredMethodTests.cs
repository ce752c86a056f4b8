using Mesh.Endpoints.Internal;
using Mesh.Http.Internal;

namespace Mesh.Tests.Endpoints;

/// <summary>The method the mesh puts back on an answered request: equal to the caller's in every respect, carrying the
/// endpoint, one per method and endpoint (reused, so a new path or a new request costs nothing).</summary>
public sealed class AnsweredMethodTests
{
    public static TheoryData<string> Methods => ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "PURGE", "purge", "M-SEARCH"];

    [Theory]
    [MemberData(nameof(Methods))]
    public void The_method_put_back_equals_the_callers_and_carries_the_endpoint(string name)
    {
        var endpoint = new EndpointState(new MeshEndpoint(new Uri("http://127.0.0.1:5001")));
        var method = HttpMethod.Parse(name);

        var answered = endpoint.Answered(method);

        Assert.Equal(method, answered);
        Assert.True(method == answered);
        Assert.Equal(method.GetHashCode(), answered.GetHashCode());
        Assert.Equal(name, answered.Method); // case kept
        Assert.Equal(name, answered.ToString());
        Assert.Same(method, answered.Original);
        Assert.Same(endpoint.Endpoint, answered.Endpoint);
        Assert.Same(answered, endpoint.Answered(method)); // reused
        Assert.Same(answered, endpoint.Answered(answered)); // a resend of the same message
        Assert.Same(answered, endpoint.Answered(new HttpMethod(name))); // the same name written the same way
        Assert.Same(method, AnsweredMethod.OriginalOf(answered));
    }

    [Fact]
    public void Names_written_differently_are_kept_apart()
    {
        var endpoint = new EndpointState(new MeshEndpoint(new Uri("http://127.0.0.1:5001")));

        var upper = endpoint.Answered(new HttpMethod("PURGE"));
        var lower = endpoint.Answered(new HttpMethod("purge"));

        Assert.NotSame(upper, lower);
        Assert.Equal("purge", lower.Method);
        Assert.NotSame(endpoint.Answered(HttpMethod.Get), endpoint.Answered(HttpMethod.Head));
    }

    [Fact]
    public void The_method_put_back_names_the_endpoint_as_it_is_now()
    {
        var endpoint = new EndpointState(new MeshEndpoint(new Uri("http://127.0.0.1:5001"), weight: 1));
        var first = endpoint.Answered(HttpMethod.Get);
        var changed = new MeshEndpoint(new Uri("http://127.0.0.1:5001"), weight: 5);
        endpoint.Update(changed);

        var second = endpoint.Answered(HttpMethod.Get);

        Assert.NotSame(first, second);
        Assert.Same(changed, second.Endpoint);
        Assert.Same(second, endpoint.Answered(HttpMethod.Get));
    }

    [Fact]
    public void Past_the_cap_a_method_still_gets_the_endpoint_but_is_not_kept()
    {
        var endpoint = new EndpointState(new MeshEndpoint(new Uri("http://127.0.0.1:5001")));
        for (var i = 0; i < EndpointState.MaxAnsweredMethods; i++)
        {
            endpoint.Answered(new HttpMethod($"CUSTOM{i}"));
        }

        var extra = endpoint.Answered(new HttpMethod("ONE-MORE"));

        Assert.Same(endpoint.Endpoint, extra.Endpoint);
        Assert.Equal("ONE-MORE", extra.Method);
        Assert.NotSame(extra, endpoint.Answered(new HttpMethod("ONE-MORE")));
        Assert.Same(endpoint.Answered(new HttpMethod("CUSTOM0")), endpoint.Answered(new HttpMethod("CUSTOM0"))); // the kept ones still are
    }
}
