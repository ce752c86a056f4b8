using Mesh.Endpoints.Internal;
using Mesh.LoadBalancing.Internal;

namespace Mesh.Tests.LoadBalancing;

/// <summary>The endpoint selector alone, over a scripted picker: tried endpoints are avoided, a probing endpoint
/// takes one probe at a time, and when everything was tried an endpoint is reused rather than failing.</summary>
public sealed class EndpointSelectorTests
{
    private static readonly PickContext Context = new(now: 1, hash: 0, hasHash: false, attempt: 0);

    private static EndpointState[] Endpoints(int count) =>
        [.. Enumerable.Range(1, count).Select(i => new EndpointState(new MeshEndpoint($"http://10.0.0.{i}:80")))];

    /// <summary>Returns its endpoints in a fixed, repeating order.</summary>
    private sealed class ScriptedPicker(EndpointState[] endpoints, params int[] order) : EndpointPicker(endpoints)
    {
        private int _next;

        public override EndpointState Pick(in PickContext context) => Endpoints[order[_next++ % order.Length]];
    }

    [Fact]
    public void The_pickers_choice_is_taken_when_it_was_not_tried()
    {
        var all = Endpoints(3);

        var chosen = EndpointSelector.Select(new ScriptedPicker(all, 1), Context, tried: null, out var isProbe);

        Assert.Same(all[1], chosen);
        Assert.False(isProbe);
    }

    [Fact]
    public void An_attempt_avoids_the_endpoints_earlier_attempts_used()
    {
        var all = Endpoints(3);
        var tried = new TriedEndpoints();
        tried.Add(all[0]);
        tried.Add(all[1]);

        var chosen = EndpointSelector.Select(new ScriptedPicker(all, 0, 1, 0, 1), Context, tried, out _);

        Assert.Same(all[2], chosen); // the picker never offers it: found by the scan
    }

    [Fact]
    public void A_probing_endpoint_takes_one_probe_at_a_time()
    {
        var all = Endpoints(2);
        all[0].Status = EndpointStatus.Probing;
        var picker = new ScriptedPicker(all, 0);

        var first = EndpointSelector.Select(picker, Context, null, out var firstIsProbe);
        var second = EndpointSelector.Select(picker, Context, null, out var secondIsProbe);

        Assert.Equal((all[0], true), (first, firstIsProbe));
        Assert.Equal((all[1], false), (second, secondIsProbe));
        all[0].ReleaseProbe();
        Assert.Same(all[0], EndpointSelector.Select(picker, Context, null, out _));
    }

    [Fact]
    public void The_fallback_is_used_only_once_every_preferred_endpoint_was_tried()
    {
        var local = Endpoints(2);
        var remote = new[] { new EndpointState(new MeshEndpoint("http://10.0.1.1:80")) };
        var preferred = new ScriptedPicker(local, 0, 1);
        var fallback = new ScriptedPicker(remote, 0);
        var tried = new TriedEndpoints();
        tried.Add(local[0]);

        Assert.Same(local[1], EndpointSelector.Select(preferred, fallback, Context, tried, out _));
        tried.Add(local[1]);
        Assert.Same(remote[0], EndpointSelector.Select(preferred, fallback, Context, tried, out _));
        tried.Add(remote[0]);
        Assert.Contains(EndpointSelector.Select(preferred, fallback, Context, tried, out _), local); // all tried: reuse the preferred group
    }

    [Fact]
    public void When_every_endpoint_was_tried_one_is_reused_rather_than_failing()
    {
        var all = Endpoints(2);
        var tried = new TriedEndpoints();
        tried.Add(all[0]);
        tried.Add(all[1]);

        var chosen = EndpointSelector.Select(new ScriptedPicker(all, 1), Context, tried, out var isProbe);

        Assert.Same(all[1], chosen);
        Assert.False(isProbe);
    }

    [Fact]
    public void Tried_endpoints_can_be_added_from_several_threads()
    {
        var all = Endpoints(64);
        var tried = new TriedEndpoints();

        Parallel.ForEach(all, e => tried.Add(e));

        Assert.Equal(64, tried.Count);
        Assert.All(all, e => Assert.True(tried.Contains(e)));
    }
}
