using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Tests.Health;

/// <summary>The ejection scheduler on a fake clock: it wakes the service when the earliest ejection ends.</summary>
public sealed class EjectionSchedulerTests
{
    private readonly FakeTimeProvider _time = new();

    private EndpointState Ejected(string address, TimeSpan until)
    {
        var e = new EndpointState(new MeshEndpoint(address)) { Status = EndpointStatus.Ejected };
        e.Outlier.EjectedUntil = _time.GetTimestamp() + (long)(until.TotalSeconds * _time.TimestampFrequency);
        return e;
    }

    [Fact]
    public void It_fires_when_the_earliest_ejection_ends_and_not_before()
    {
        var fired = 0;
        using var scheduler = new EjectionScheduler(_time, () => fired++);
        EndpointState[] endpoints = [Ejected("http://10.0.0.1:80", TimeSpan.FromSeconds(60)), Ejected("http://10.0.0.2:80", TimeSpan.FromSeconds(30))];

        scheduler.Reschedule(endpoints, _time.GetTimestamp());
        _time.Advance(TimeSpan.FromSeconds(29.9));
        Assert.Equal(0, fired);
        _time.Advance(TimeSpan.FromSeconds(0.1));

        Assert.Equal(1, fired);
    }

    [Fact]
    public void It_stays_idle_while_nothing_is_ejected()
    {
        var fired = 0;
        using var scheduler = new EjectionScheduler(_time, () => fired++);
        var endpoint = Ejected("http://10.0.0.1:80", TimeSpan.FromSeconds(1));
        scheduler.Reschedule([endpoint], _time.GetTimestamp());

        endpoint.Status = EndpointStatus.Active;
        scheduler.Reschedule([endpoint], _time.GetTimestamp());
        _time.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(0, fired);
        Assert.Equal(long.MaxValue, scheduler.NextDue);
    }

    [Fact]
    public void After_disposal_it_never_fires()
    {
        var fired = 0;
        var scheduler = new EjectionScheduler(_time, () => fired++);
        scheduler.Reschedule([Ejected("http://10.0.0.1:80", TimeSpan.FromSeconds(1))], _time.GetTimestamp());

        scheduler.Dispose();
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(0, fired);
    }
}
