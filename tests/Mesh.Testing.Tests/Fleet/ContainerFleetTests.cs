using Mesh.Containers;
using Mesh.Testing;
using Mesh.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Testing.Tests.Fleet;

/// <summary>
/// The classic example's Deployment with <c>replicas: 3</c>: the test replica built into a FROM scratch image without
/// a registry, three containers of it behind AddMeshClient — as a user writes such a suite.
/// </summary>
public sealed class ContainerCatalogFleet : FleetFixture
{
    private DockerSession? _session;
    private ContainerReplicaTemplate? _template;

    protected override async Task<ServiceFleet> StartFleetAsync(CancellationToken cancellationToken)
    {
        _session = await DockerSession.StartAsync(cancellationToken: cancellationToken);
        _template = await ContainerReplicaTemplate.ForTestReplicaAsync(_session, cancellationToken: cancellationToken);
        return await ServiceFleet.StartAsync("catalog", replicas: 3, _template, version: "v1",
            options: new FleetOptions { DrainDelay = TimeSpan.FromMilliseconds(500) }, cancellationToken: cancellationToken);
    }

    protected override async ValueTask DisposeResourcesAsync()
    {
        if (_template is not null)
        {
            await _template.DisposeAsync();
        }

        if (_session is not null)
        {
            await _session.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ContainerFleetCollection : ICollectionFixture<ContainerCatalogFleet>
{
    public const string Name = "Container fleet";
}

/// <summary>Kill, rolling update and pause against real containers. The tests share one fleet and leave it as they found it.</summary>
[Collection(ContainerFleetCollection.Name)]
public sealed class ContainerFleetTests(ContainerCatalogFleet catalog)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private ServiceFleet Fleet
    {
        get
        {
            Requires.Component(catalog.StartupFailure is not DockerEngineUnavailableException, "Docker engine",
                "run ./test.sh as root, which installs docker.io and starts dockerd");
            return catalog.Fleet;
        }
    }

    private static TrafficOptions Load(TimeSpan duration) => new() { Duration = duration, Concurrency = 4, RequestsPerSecond = 200 };

    [Fact]
    public async Task A_replica_killed_under_load_costs_no_request_with_the_resilience_handler()
    {
        var fleet = Fleet;
        await using var mesh = catalog.CreateClient(configureClient: c => c.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(5)));
        var victim = fleet[1];

        var traffic = TrafficDriver.RunAsync(mesh.Client, Load(TimeSpan.FromSeconds(3)), Token);
        await Task.Delay(1000, Token);
        await victim.KillAsync(Token);
        var report = await traffic;
        var victimState = mesh.Monitor.GetService("catalog").Endpoints.Single(e => e.Endpoint.Address == victim.Address);
        await victim.RestartAsync(Token);

        report.AssertNoFailures();
        Assert.True(report.CountOf(fleet[0].Id) + report.CountOf(fleet[2].Id) > 100, report.ToString());
        Assert.True(victimState.Failures > 0, "the mesh saw the killed replica fail (and retried elsewhere)");
    }

    [Fact]
    public async Task A_paused_replica_is_avoided_after_its_first_timeouts()
    {
        var fleet = Fleet;
        await using var mesh = catalog.CreateClient(s => s.AttemptTimeout = TimeSpan.FromMilliseconds(500));
        var paused = fleet[2];
        await paused.PauseAsync(Token);
        try
        {
            var report = await TrafficDriver.RunAsync(mesh.Client, Load(TimeSpan.FromSeconds(3)), Token);

            Assert.InRange(report.Failed, 1, 8);
            Assert.All(report.Failures, f => Assert.Contains("timed out after 00:00:00.5000000", f.Reason, StringComparison.Ordinal));
            Assert.Equal(0, report.CountOf(paused.Id));
            Assert.True(report.Succeeded > 300, report.ToString());
        }
        finally
        {
            await paused.UnpauseAsync(Token);
        }
    }

    [Fact]
    public async Task A_partitioned_replica_is_unreachable_and_answers_again_after_it_reconnects()
    {
        var replica = Fleet[0];
        using var direct = new HttpClient { BaseAddress = replica.Address, Timeout = TimeSpan.FromSeconds(2) };

        await replica.DisconnectAsync(Token);
        var cutOff = await Record.ExceptionAsync(() => direct.GetStringAsync("/", Token));
        await replica.ReconnectAsync(Token);
        string? answer = null;
        for (var i = 0; i < 50 && answer is null; i++)
        {
            try
            {
                answer = await direct.GetStringAsync("/", Token);
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100, Token);
            }
        }

        Assert.NotNull(cutOff);
        Assert.Equal(replica.Id, answer);
    }

    [Fact]
    public async Task A_rolling_update_from_v1_to_v2_under_load_fails_no_request_and_ends_all_on_v2()
    {
        var fleet = Fleet;
        await using var mesh = catalog.CreateClient(configureClient: c => c.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(5)));

        await using var traffic = TrafficDriver.Start(mesh.Client, Load(TimeSpan.FromMinutes(2)), cancellationToken: Token);
        await Task.Delay(500, Token);
        await fleet.RollingUpdateAsync("v2", cancellationToken: Token);
        await Task.Delay(500, Token);
        var during = await traffic.StopAsync(); // the requests in flight finish and count too
        var after = await TrafficDriver.RunAsync(mesh.Client, new TrafficOptions
        {
            RequestCount = 60,
            Concurrency = 3,
            IdentifyReplica = r => r.Headers.TryGetValues(InProcessReplica.VersionHeader, out var v) ? v.First() : "(no version)",
        }, Token);

        during.AssertNoFailures();
        Assert.All(fleet.Replicas, r => Assert.Equal("v2", r.Version));
        after.AssertDistribution(new Dictionary<string, double> { ["v2"] = 1.0 }, tolerance: 0);
    }
}
