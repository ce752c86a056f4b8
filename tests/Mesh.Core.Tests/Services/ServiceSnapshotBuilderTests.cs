using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.LoadBalancing.Internal;
using Mesh.Services.Internal;

namespace Mesh.Tests.Services;

/// <summary>The snapshot builder alone, a pure function: which endpoints the picker gets, panic, zones, slow-start
/// refreshes, traffic split and the reasons when nothing can take a request.</summary>
public sealed class ServiceSnapshotBuilderTests
{
    private const double Frequency = 1000;

    private static ServiceSettings Settings(Action<MeshServiceOptions>? configure = null, string? zone = null)
    {
        var options = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.RoundRobin };
        configure?.Invoke(options);
        return ServiceSettings.Compile("catalog", options, new MeshDefaults(zone), Frequency);
    }

    private static EndpointState Endpoint(int i, string? zone = null, Dictionary<string, string>? metadata = null) =>
        new(new MeshEndpoint($"http://10.0.0.{i}:80", zone: zone, metadata: metadata));

    [Fact]
    public void All_routable_endpoints_are_candidates_and_no_refresh_is_due()
    {
        EndpointState[] all = [Endpoint(1), Endpoint(2), Endpoint(3)];

        var snapshot = ServiceSnapshotBuilder.Build(all, Settings(), now: 10, discoveryProblem: null);

        Assert.Equal(all, snapshot.Picker!.Endpoints);
        Assert.False(snapshot.Panic);
        Assert.Equal((3, 3), (snapshot.Routable, snapshot.Total));
        Assert.Equal(long.MaxValue, snapshot.RefreshAt);
    }

    [Fact]
    public void Ejected_and_unhealthy_endpoints_are_left_out()
    {
        EndpointState[] all = [Endpoint(1), Endpoint(2), Endpoint(3), Endpoint(4)];
        all[0].Status = EndpointStatus.Ejected;
        all[1].ActiveHealth = ActiveHealth.Unhealthy;
        all[2].Status = EndpointStatus.Probing;

        var snapshot = ServiceSnapshotBuilder.Build(all, Settings(), 10, null);

        Assert.Equal([all[2], all[3]], snapshot.Picker!.Endpoints);
        Assert.False(snapshot.Panic);
    }

    [Fact]
    public void Under_the_panic_threshold_every_endpoint_is_a_candidate()
    {
        EndpointState[] all = [Endpoint(1), Endpoint(2), Endpoint(3)];
        all[0].Status = EndpointStatus.Ejected;
        all[1].Status = EndpointStatus.Ejected;

        var snapshot = ServiceSnapshotBuilder.Build(all, Settings(), 10, null);

        Assert.True(snapshot.Panic);
        Assert.Equal(all, snapshot.Picker!.Endpoints);
        Assert.Equal(1, snapshot.Routable);
    }

    [Fact]
    public void With_PanicThreshold_0_and_nothing_routable_the_reason_names_the_key()
    {
        EndpointState[] all = [Endpoint(1)];
        all[0].Status = EndpointStatus.Ejected;

        var snapshot = ServiceSnapshotBuilder.Build(all, Settings(o => o.PanicThreshold = 0), 10, null);

        Assert.Null(snapshot.Picker);
        Assert.Contains("Mesh:Services:catalog:PanicThreshold", snapshot.UnavailableReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_endpoints_the_reason_names_the_discovery_problem()
    {
        var snapshot = ServiceSnapshotBuilder.Build([], Settings(), 10, "Etcd: connection refused");

        Assert.Null(snapshot.Picker);
        Assert.Equal("discovery failed before any endpoint was found (Etcd: connection refused)", snapshot.UnavailableReason);
    }

    [Fact]
    public void Local_zone_endpoints_are_preferred_while_enough_of_them_are_routable()
    {
        EndpointState[] all = [Endpoint(1, "eu-1a"), Endpoint(2, "eu-1a"), Endpoint(3, "eu-1b"), Endpoint(4, "eu-1b")];
        var settings = Settings(zone: "EU-1A");

        var preferred = ServiceSnapshotBuilder.Build(all, settings, 10, null);
        Assert.Equal([all[0], all[1]], preferred.Picker!.Endpoints);
        Assert.Equal([all[2], all[3]], preferred.Fallback!.Endpoints); // where retries go once the local zone is tried

        all[0].Status = EndpointStatus.Ejected; // 1 of 2 local routable = 50%: still enough
        Assert.Equal([all[1]], ServiceSnapshotBuilder.Build(all, settings, 10, null).Picker!.Endpoints);

        all[1].Status = EndpointStatus.Ejected; // none local: the other zone
        var remote = ServiceSnapshotBuilder.Build(all, settings, 10, null);
        Assert.Equal([all[2], all[3]], remote.Picker!.Endpoints);
        Assert.Null(remote.Fallback);
    }

    [Fact]
    public void A_ramping_endpoint_schedules_a_refresh_within_a_twentieth_of_the_window_or_a_second()
    {
        EndpointState[] all = [Endpoint(1), Endpoint(2)];
        all[1].SlowStartBegin = 100;

        var snapshot = ServiceSnapshotBuilder.Build(all, Settings(o => o.SlowStart.Window = TimeSpan.FromSeconds(10)), now: 200, null);

        Assert.Equal(200 + 500, snapshot.RefreshAt); // 10 s / 20 = 500 ms < 1 s
    }

    [Fact]
    public void A_traffic_split_builds_one_picker_per_group_with_endpoints()
    {
        var v1 = new Dictionary<string, string> { ["version"] = "v1" };
        var v2 = new Dictionary<string, string> { ["version"] = "v2" };
        EndpointState[] all = [Endpoint(1, metadata: v1), Endpoint(2, metadata: v2)];
        var settings = Settings(o =>
        {
            o.TrafficSplit.MetadataKey = "version";
            o.TrafficSplit.Weights["v1"] = 3;
            o.TrafficSplit.Weights["v2"] = 1;
        });

        var picker = ServiceSnapshotBuilder.Build(all, settings, 10, null).Picker!;

        Assert.IsType<TrafficSplitPicker>(picker);
        var picks = Enumerable.Range(0, 400).Select(_ => picker.Pick(new PickContext(10, 0, false, 0))).ToList();
        Assert.Equal(300, picks.Count(p => ReferenceEquals(p, all[0])));
        Assert.Equal(100, picks.Count(p => ReferenceEquals(p, all[1])));
    }

    [Fact]
    public void Building_writes_nothing_to_the_endpoint_states()
    {
        EndpointState[] all = [Endpoint(1), Endpoint(2)];
        all[0].SlowStartBegin = 1; // a ramp long over

        ServiceSnapshotBuilder.Build(all, Settings(), now: 1_000_000, null);

        Assert.Equal(1, all[0].SlowStartBegin);
    }
}
