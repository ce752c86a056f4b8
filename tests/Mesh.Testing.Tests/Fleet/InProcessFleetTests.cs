using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Testing.Tests.Fleet;

/// <summary>A fleet of 3 in-process replicas behind AddMeshClient — the scenarios of the container suite, in seconds.</summary>
public sealed class CatalogFleet : FleetFixture
{
    protected override Task<ServiceFleet> StartFleetAsync(CancellationToken cancellationToken) =>
        ServiceFleet.StartAsync("catalog", replicas: 3, version: "v1", cancellationToken: cancellationToken);
}

/// <summary>The fixture as a user writes it: one fleet shared by the tests of a class.</summary>
public sealed class FleetFixtureTests(CatalogFleet catalog) : IClassFixture<CatalogFleet>
{
    [Fact]
    public async Task Round_robin_through_the_fixture_client_reaches_every_replica_evenly()
    {
        await using var mesh = catalog.CreateClient(s => s.LoadBalancer = LoadBalancerKind.RoundRobin);

        var report = await TrafficDriver.RunAsync(mesh.Client, new TrafficOptions { RequestCount = 300, Concurrency = 1 }, TestContext.Current.CancellationToken);

        report.AssertNoFailures();
        report.AssertDistribution(catalog.Fleet.Replicas.ToDictionary(r => r.Id, _ => 1 / 3.0), tolerance: 0.005);
    }
}

[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class InProcessFleetTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static TrafficOptions For(TimeSpan duration) => new() { Duration = duration, Concurrency = 4, RequestsPerSecond = 400 };

    [Fact]
    public async Task A_replica_killed_under_load_costs_no_request_with_the_resilience_handler()
    {
        await using var fleet = await ServiceFleet.StartAsync("catalog", 3, cancellationToken: Token);
        await using var mesh = MeshTestClient.Create(fleet, configureClient: c => c.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(5)));

        var traffic = TrafficDriver.RunAsync(mesh.Client, For(TimeSpan.FromSeconds(2)), Token);
        await Task.Delay(700, Token);
        await fleet[1].KillAsync(Token);
        var report = await traffic;

        report.AssertNoFailures();
        Assert.True(report.CountOf(fleet[0].Id) + report.CountOf(fleet[2].Id) > 200, report.ToString());
        // The mesh saw the dead replica fail and retried elsewhere; Peak-EWMA's failure penalty keeps it away even
        // before it has failed ConsecutiveFailures times in a row.
        Assert.True(mesh.Monitor.GetService("catalog").Endpoints[1].Failures > 0);
    }

    [Fact]
    public async Task A_rolling_update_from_v1_to_v2_under_load_fails_no_request_and_ends_all_on_v2()
    {
        await using var fleet = await ServiceFleet.StartAsync("catalog", 3, version: "v1", options: new FleetOptions { DrainDelay = TimeSpan.FromMilliseconds(300) }, cancellationToken: Token);
        await using var mesh = MeshTestClient.Create(fleet, configureClient: c => c.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(5)));

        var traffic = TrafficDriver.RunAsync(mesh.Client, For(TimeSpan.FromSeconds(3)), Token);
        await Task.Delay(300, Token);
        await fleet.RollingUpdateAsync("v2", cancellationToken: Token);
        var during = await traffic;
        var after = await TrafficDriver.RunAsync(mesh.Client, new TrafficOptions
        {
            RequestCount = 90,
            Concurrency = 3,
            IdentifyReplica = r => r.Headers.TryGetValues(InProcessReplica.VersionHeader, out var v) ? v.First() : "(no version)",
        }, Token);

        during.AssertNoFailures();
        Assert.All(fleet.Replicas, r => Assert.Equal("v2", r.Version));
        Assert.Equal(3, fleet.Replicas.Count);
        // Every answer after the update comes from v2. (Which of the three new replicas answer depends on slow start
        // and Peak-EWMA, so it is not asserted.)
        after.AssertDistribution(new Dictionary<string, double> { ["v2"] = 1.0 }, tolerance: 0);
    }

    [Fact]
    public async Task A_paused_replica_is_avoided_after_its_first_timeouts()
    {
        await using var fleet = await ServiceFleet.StartAsync("catalog", 3, cancellationToken: Token);
        await using var mesh = MeshTestClient.Create(fleet, s => s.AttemptTimeout = TimeSpan.FromMilliseconds(300));
        await fleet[2].PauseAsync(Token);

        var report = await TrafficDriver.RunAsync(mesh.Client, For(TimeSpan.FromSeconds(2)), Token);

        Assert.InRange(report.Failed, 1, 8); // only the first timeouts
        Assert.All(report.Failures, f => Assert.Contains("timed out after 00:00:00.3000000", f.Reason, StringComparison.Ordinal));
        Assert.All(report.Failures, f => Assert.Equal(fleet[2].Address.ToString().TrimEnd('/'), Assert.IsType<MeshAttemptTimeoutException>(f.Exception).Endpoint));
        Assert.True(report.Succeeded > 500, report.ToString());
        Assert.Equal(0, report.CountOf(fleet[2].Id));
    }

    [Fact]
    public async Task Scaling_up_and_down_changes_who_gets_traffic()
    {
        await using var fleet = await ServiceFleet.StartAsync("catalog", 2, options: new FleetOptions { DrainDelay = TimeSpan.FromMilliseconds(100) }, cancellationToken: Token);
        await using var mesh = MeshTestClient.Create(fleet, s => { s.LoadBalancer = LoadBalancerKind.RoundRobin; s.SlowStart.Window = TimeSpan.Zero; });

        await fleet.ScaleAsync(4, Token);
        var up = await TrafficDriver.RunAsync(mesh.Client, new TrafficOptions { RequestCount = 400, Concurrency = 1 }, Token);
        await fleet.ScaleAsync(1, Token);
        var down = await TrafficDriver.RunAsync(mesh.Client, new TrafficOptions { RequestCount = 50, Concurrency = 1 }, Token);

        up.AssertDistribution(fleet.Replicas.Take(1).Select(r => r.Id).Concat(up.Replicas.Select(r => r.Replica)).Distinct().ToDictionary(id => id, _ => 0.25), tolerance: 0.01);
        Assert.Equal(4, up.Replicas.Count);
        down.AssertDistribution(new Dictionary<string, double> { [fleet[0].Id] = 1.0 }, tolerance: 0);
    }

    [Fact]
    public async Task A_fixture_whose_fleet_failed_to_start_rethrows_the_cause_with_logs_in_each_test()
    {
        var fixture = new BrokenFleet();
        await fixture.InitializeAsync();

        var error = Assert.Throws<FleetStartupException>(() => fixture.Fleet);

        Assert.Contains("The fleet of BrokenFleet did not start", error.Message, StringComparison.Ordinal);
        Assert.Contains("port 1 is taken", error.Message, StringComparison.Ordinal);
        Assert.Contains("--- catalog-", error.InnerException!.Message, StringComparison.Ordinal); // the started replicas' logs
        await fixture.DisposeAsync();
    }

    private sealed class BrokenFleet : FleetFixture
    {
        protected override Task<ServiceFleet> StartFleetAsync(CancellationToken cancellationToken) =>
            ServiceFleet.StartAsync("catalog", 3, new FailingTemplate(), cancellationToken: cancellationToken);
    }

    /// <summary>Starts two replicas, then fails the third as a real start-up error would.</summary>
    private sealed class FailingTemplate : ReplicaTemplate
    {
        private int _started;

        public override async Task<IFleetReplica> StartReplicaAsync(string id, string? version, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _started) == 3)
            {
                throw new InvalidOperationException("port 1 is taken");
            }

            return await InProcess().StartReplicaAsync(id, version, cancellationToken);
        }

        public override string ToString() => "failing template";
    }
}
