using System.Collections.Concurrent;
using Mesh.Discovery.Internal;
using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;

namespace Mesh.Services.Internal;

/// <summary>
/// One place for what a service tells the outside world: log lines (through the component's logger), metrics and
/// <see cref="MeshMonitor.EndpointHealthChanged"/> events. Health events are queued while the service lock is held and
/// delivered by <see cref="Flush"/> after it is released, in order and by one thread at a time, so a handler never runs
/// under the lock.
/// </summary>
internal sealed class ServiceEvents(string service, MeshEnvironment env)
{
    private readonly ConcurrentQueue<MeshEndpointHealthChangedEventArgs> _pending = new();
    private int _delivering;

    // ------------------------------------------------------------------ health

    public void Ejected(EndpointState endpoint, MeshEndpointHealth previous, in OutlierDecision decision)
    {
        var reason = decision.Reason!;
        HealthLog.EndpointEjected(env.HealthLogger, service, endpoint.Key, decision.Duration, decision.EjectionsInARow, reason.Text);
        env.Metrics.RecordEjection(service, reason.Kind switch
        {
            HealthReasonKind.ProbeFailed => "probe_failed",
            HealthReasonKind.FailureRate => "failure_rate",
            _ => "consecutive_failures",
        });
        Queue(endpoint, previous, MeshEndpointHealth.Ejected, reason.Text);
    }

    public void EjectionLimited(EndpointState endpoint, in OutlierDecision decision, int maxEjectionPercent)
    {
        if (decision.FirstTime)
        {
            HealthLog.EjectionLimited(env.HealthLogger, service, endpoint.Key, decision.Reason!.Text, decision.Ejected, decision.Total, maxEjectionPercent);
        }
    }

    public void Returned(EndpointState endpoint, MeshEndpointHealth previous, MeshEndpointHealth current, string reason)
    {
        HealthLog.EndpointReturned(env.HealthLogger, service, endpoint.Key, reason);
        env.Metrics.RecordReturn(service);
        Queue(endpoint, previous, current, reason);
    }

    public void Probing(EndpointState endpoint)
    {
        HealthLog.EndpointProbing(env.HealthLogger, service, endpoint.Key);
        Queue(endpoint, MeshEndpointHealth.Ejected, MeshEndpointHealth.Probing, endpoint.Reason?.Text ?? "ejection ended");
    }

    public void Unhealthy(EndpointState endpoint, MeshEndpointHealth previous, MeshEndpointHealth current)
    {
        var reason = endpoint.Reason?.Text ?? "failed health checks";
        HealthLog.EndpointUnhealthy(env.HealthLogger, service, endpoint.Key, reason);
        Queue(endpoint, previous, current, reason);
    }

    public void HealthCheckFailed(EndpointState endpoint, string detail) => HealthLog.HealthCheckFailed(env.HealthLogger, service, endpoint.Key, detail);

    public void HealthChecksReleased(EndpointState endpoint, MeshEndpointHealth previous, MeshEndpointHealth current)
    {
        HealthLog.HealthChecksReleased(env.HealthLogger, service, endpoint.Key);
        Queue(endpoint, previous, current, "active health checks were turned off");
    }

    public void PanicChanged(in ServiceSnapshot snapshot, int threshold)
    {
        if (snapshot.Panic)
        {
            HealthLog.PanicEntered(env.HealthLogger, service, snapshot.Routable, snapshot.Total, threshold);
        }
        else
        {
            HealthLog.PanicExited(env.HealthLogger, service, snapshot.Routable, snapshot.Total);
        }
    }

    // ------------------------------------------------------------------ endpoint sets

    public void EndpointsUpdated(string source, int count, int added, int removed) =>
        DiscoveryLog.EndpointsUpdated(env.DiscoveryLogger, service, source, count, added, removed);

    public void SourceUpdated(string source) => env.Metrics.RecordDiscoveryUpdate(service, source);

    /// <summary>A source failed. Its first failure in a row is a Warning (with the stack trace only for an unexpected
    /// exception, one that is not a <see cref="Mesh.Discovery.MeshDiscoveryException"/>); later ones are Debug.</summary>
    public void SourceFailed(Exception error, string source, int failuresInARow, int lastCount)
    {
        if (failuresInARow == 1)
        {
            DiscoveryLog.DiscoveryFailed(env.DiscoveryLogger, error is Mesh.Discovery.MeshDiscoveryException ? null : error, service, source, error.Message, lastCount);
        }
        else
        {
            DiscoveryLog.DiscoveryStillFailing(env.DiscoveryLogger, service, source, failuresInARow, error.Message);
        }

        env.Metrics.RecordDiscoveryFailure(service, source);
    }

    /// <summary>A failing source published again.</summary>
    public void SourceRecovered(string source, int failures, int count) =>
        DiscoveryLog.DiscoveryRecovered(env.DiscoveryLogger, service, source, failures, count);

    public void EndpointSkipped(string endpoint, string source, string reason) =>
        DiscoveryLog.EndpointSkipped(env.DiscoveryLogger, service, endpoint, source, reason);

    public void PlainHttpRefused(MeshEndpoint endpoint, string source)
    {
        DiscoveryLog.PlainHttpEndpointRefused(env.DiscoveryLogger, service, endpoint.Address.ToString(), source);
        env.Metrics.RecordEndpointRefused(service, source, "plain_http");
    }

    public void PlainHttpAdmitted(MeshEndpoint endpoint, string source) =>
        DiscoveryLog.PlainHttpEndpointAdmitted(env.DiscoveryLogger, service, endpoint.Address.ToString(), source);

    // ------------------------------------------------------------------ delivery

    private void Queue(EndpointState endpoint, MeshEndpointHealth previous, MeshEndpointHealth current, string reason)
    {
        if (previous != current)
        {
            _pending.Enqueue(new MeshEndpointHealthChangedEventArgs(service, endpoint.Endpoint, previous, current, reason));
        }
    }

    /// <summary>Delivers queued health events. Call after releasing the service lock.</summary>
    public void Flush()
    {
        while (!_pending.IsEmpty)
        {
            if (Interlocked.CompareExchange(ref _delivering, 1, 0) != 0)
            {
                return; // another thread is delivering and will see what was queued before it finishes
            }

            try
            {
                while (_pending.TryDequeue(out var change))
                {
                    env.Raise(change);
                }
            }
            finally
            {
                Volatile.Write(ref _delivering, 0);
            }
        }
    }
}
