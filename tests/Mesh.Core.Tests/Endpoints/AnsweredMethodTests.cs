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
        Assert.Same(method, AnsweredMethod.OriginalOf(answered));

        var other = new HttpMethod(name); // another instance of the same name: its own, so a resend restores exactly it
        var answeredOther = endpoint.Answered(other);
        Assert.NotSame(answered, answeredOther);
        Assert.Same(other, answeredOther.Original);
        Assert.Same(answeredOther, endpoint.Answered(other));
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
    public void Past_the_cap_a_custom_method_still_gets_the_endpoint_but_is_not_kept_and_standard_methods_always_are()
    {
        var endpoint = new EndpointState(new MeshEndpoint(new Uri("http://127.0.0.1:5001")));
        var kept = new HttpMethod("CUSTOM0");
        var first = endpoint.Answered(kept);
        for (var i = 1; i < EndpointState.MaxCustomMethods; i++)
        {
            endpoint.Answered(new HttpMethod($"CUSTOM{i}")); // an app making a new method per request
        }

        var extra = new HttpMethod("ONE-MORE");
        var answeredExtra = endpoint.Answered(extra);

        Assert.Same(endpoint.Endpoint, answeredExtra.Endpoint);
        Assert.Same(extra, answeredExtra.Original);
        Assert.NotSame(answeredExtra, endpoint.Answered(extra));
        Assert.Same(first, endpoint.Answered(kept)); // the kept ones still are
        var get = endpoint.Answered(HttpMethod.Get);
        Assert.Same(get, endpoint.Answered(HttpMethod.Get)); // the singletons are kept past the cap
        Assert.Same(endpoint.Answered(HttpMethod.Parse("POST")), endpoint.Answered(HttpMethod.Post));
    }

    [Fact]
    public async Task Concurrent_answers_and_endpoint_updates_always_carry_the_callers_method_and_a_current_endpoint()
    {
        var endpoint = new EndpointState(new MeshEndpoint(new Uri("http://127.0.0.1:5001"), weight: 1));
        var versions = new System.Collections.Concurrent.ConcurrentDictionary<object, bool>(ReferenceEqualityComparer.Instance) { [endpoint.Endpoint] = true };
        HttpMethod[] methods = [HttpMethod.Get, HttpMethod.Head, HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Options, HttpMethod.Patch, HttpMethod.Trace, new HttpMethod("PURGE")];
        using var stop = new CancellationTokenSource();
        var updater = Task.Run(() =>
        {
            for (var w = 2; w < 200 && !stop.IsCancellationRequested; w++)
            {
                var next = new MeshEndpoint(new Uri("http://127.0.0.1:5001"), weight: w);
                versions[next] = true;
                endpoint.Update(next);
                Thread.Yield();
            }
        }, TestContext.Current.CancellationToken);
        var answering = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                var method = methods[(i + t) % methods.Length];
                var answered = endpoint.Answered(method);
                if (!ReferenceEquals(answered.Original, method) || answered.Method != method.Method || !versions.ContainsKey(answered.Endpoint))
                {
                    return false;
                }
            }

            return true;
        }, TestContext.Current.CancellationToken)).ToArray();

        var results = await Task.WhenAll(answering);
        await stop.CancelAsync();
        await updater;

        Assert.All(results, Assert.True);
        foreach (var method in methods)
        {
            var answered = endpoint.Answered(method);
            Assert.Same(endpoint.Endpoint, answered.Endpoint); // once updates stop, every method names the endpoint as it is
            Assert.Same(answered, endpoint.Answered(method));
        }
    }
}
