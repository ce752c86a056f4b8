using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Tests.Services;

/// <summary>Service events: health events are delivered after the service lock is released, in order, and each log
/// line goes to its component's category.</summary>
public sealed class ServiceEventsTests
{
    [Fact]
    public void Health_events_are_delivered_outside_the_service_lock_in_order()
    {
        var time = new FakeTimeProvider();
        var env = new MeshEnvironment(time);
        var options = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.RoundRobin, SlowStart = { Window = TimeSpan.Zero } };
        options.Endpoints.Add(new MeshEndpointOptions { Address = "http://10.0.0.1:80" });
        options.Endpoints.Add(new MeshEndpointOptions { Address = "http://10.0.0.2:80" });
        var service = new ServiceRuntime("catalog", env, options, zone: null);
        service.Configure(options, zone: null);
        var seen = new List<(MeshEndpointHealth, MeshEndpointHealth, bool LockFree)>();
        env.HealthChanged += change =>
        {
            // Another thread can take the service lock while the handler runs: it is not held.
            var free = Task.Run(() => service.CreateSnapshot()).Wait(TimeSpan.FromSeconds(5));
            seen.Add((change.Previous, change.Current, free));
        };
        var endpoint = service.Endpoints[0];

        for (var i = 0; i < 5; i++)
        {
            service.OnOutcome(endpoint, RequestOutcome.ConnectionFailure, isProbe: false, "refused");
        }

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(endpoint.TryTakeProbe());
        service.OnOutcome(endpoint, RequestOutcome.Success, isProbe: true, null);

        Assert.Equal(
        [
            (MeshEndpointHealth.Healthy, MeshEndpointHealth.Ejected, true),
            (MeshEndpointHealth.Ejected, MeshEndpointHealth.Probing, true),
            (MeshEndpointHealth.Probing, MeshEndpointHealth.Healthy, true),
        ], seen);
    }

    [Fact]
    public void Each_component_logs_under_its_own_category()
    {
        var logs = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)).SetMinimumLevel(LogLevel.Debug));
        var env = new MeshEnvironment(TimeProvider.System, factory);
        var events = new ServiceEvents("catalog", env);
        var endpoint = new EndpointState(new MeshEndpoint("http://10.0.0.1:80"));

        events.HealthCheckFailed(endpoint, "GET /healthz returned 503");
        events.EndpointsUpdated("Etcd", 3, 1, 0);

        Assert.Equal("Mesh.Health", logs.GetSnapshot().Single(r => r.Id.Name == "HealthCheckFailed").Category);
        Assert.Equal("Mesh.Discovery", logs.GetSnapshot().Single(r => r.Id.Name == "EndpointsUpdated").Category);
    }
}
