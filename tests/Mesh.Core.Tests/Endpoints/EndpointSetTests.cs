using Mesh.Endpoints.Internal;
using Mesh.Services.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Tests.Endpoints;

/// <summary>The endpoint set alone: merging sources, keeping endpoint state across updates, duplicates, slow start
/// for joiners, and the plain-http door for services that require mutual TLS.</summary>
public sealed class EndpointSetTests
{
    private readonly FakeLogCollector _logs = new();

    private EndpointSet NewSet()
    {
        var env = new MeshEnvironment(TimeProvider.System, LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(_logs))));
        return new EndpointSet(owner: null!, new ServiceEvents("catalog", env));
    }

    private static ServiceSettings Settings(Action<MeshServiceOptions>? configure = null)
    {
        var options = new MeshServiceOptions { Discovery = "Etcd" };
        configure?.Invoke(options);
        return ServiceSettings.Compile("catalog", options, default, 1000);
    }

    private static MeshEndpoint E(string address, int weight = 1) => new(address, weight);

    [Fact]
    public void An_endpoint_that_stays_keeps_its_state_and_takes_the_new_weight()
    {
        var set = NewSet();
        var settings = Settings();
        set.SetSource("Etcd", [E("http://10.0.0.1:80"), E("http://10.0.0.2:80")]);
        set.Merge("Etcd", settings, hasIdentity: false, now: 1);
        var kept = set.States[0];
        kept.OnRequestStart();

        set.SetSource("Etcd", [E("http://10.0.0.1:80", weight: 5)]);
        var change = set.Merge("Etcd", settings, false, now: 2);

        Assert.Same(kept, Assert.Single(set.States));
        Assert.Equal(1, kept.InFlight);
        Assert.Equal(5, kept.Endpoint.Weight);
        Assert.Equal(new EndpointSetChange(1, 0, 1), change);
    }

    [Fact]
    public void Endpoints_joining_a_running_service_ramp_up_but_the_first_set_does_not()
    {
        var set = NewSet();
        var settings = Settings(o => o.SlowStart.Window = TimeSpan.FromSeconds(10));
        set.SetSource("Etcd", [E("http://10.0.0.1:80")]);
        set.Merge("Etcd", settings, false, now: 7);
        Assert.Equal(0, set.States[0].SlowStartBegin);

        set.SetSource("Etcd", [E("http://10.0.0.1:80"), E("http://10.0.0.2:80")]);
        set.Merge("Etcd", settings, false, now: 9);

        Assert.Equal(9, set.States[1].SlowStartBegin);
    }

    [Fact]
    public void The_first_source_listing_an_address_wins_and_the_duplicate_is_logged()
    {
        var set = NewSet();
        set.SetSource("Configuration", [E("http://10.0.0.1:80", weight: 2)]);
        set.SetSource("Etcd", [E("http://10.0.0.1:80", weight: 9)]);

        set.Merge("Etcd", Settings(), false, 1);

        Assert.Equal(2, Assert.Single(set.States).Endpoint.Weight);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Name == "EndpointSkipped" && r.Message.Contains("from Etcd", StringComparison.Ordinal));
    }

    [Fact]
    public void A_service_that_requires_mutual_tls_refuses_plain_http_from_discovery_once_per_endpoint()
    {
        var set = NewSet();
        var settings = Settings(o => o.ServerIdentity = "spiffe://mesh.test/catalog");
        set.SetSource("Etcd", [E("https://10.0.0.1:443"), E("http://10.0.0.2:80")]);

        set.Merge("Etcd", settings, hasIdentity: true, 1);
        set.Merge("Etcd", settings, hasIdentity: true, 2);

        Assert.Equal("https://10.0.0.1:443", Assert.Single(set.States).Key);
        Assert.Single(_logs.GetSnapshot(), r => r.Id.Name == "PlainHttpEndpointRefused");

        set.SetSource("Etcd", [E("https://10.0.0.1:443")]); // it left ...
        set.Merge("Etcd", settings, true, 3);
        set.SetSource("Etcd", [E("https://10.0.0.1:443"), E("http://10.0.0.2:80")]); // ... and came back: reported again
        set.Merge("Etcd", settings, true, 4);
        Assert.Equal(2, _logs.GetSnapshot().Count(r => r.Id.Name == "PlainHttpEndpointRefused"));
    }

    [Fact]
    public void Sources_no_longer_configured_are_dropped_with_their_problems()
    {
        var set = NewSet();
        set.SetSource("Etcd", [E("http://10.0.0.1:80")]);
        set.SetProblem("Dns", "no answer");

        set.RetainSources(["Etcd"]);
        set.Merge("Etcd", Settings(), false, 1);

        Assert.Null(set.Problems);
        Assert.Single(set.States);
        set.RetainSources(["Configuration"]);
        set.Merge("Configuration", Settings(), false, 2);
        Assert.Empty(set.States);
    }
}
