using Mesh.Endpoints.Internal;

namespace Mesh.Health.Internal;

/// <summary>
/// Wakes the service when the earliest ejection ends, on the injected <see cref="TimeProvider"/> (one timer per
/// service, re-armed for the next due ejection; none armed while nothing is ejected). Call <see cref="Reschedule"/>
/// under the service lock after any ejection change; the callback runs on a timer thread and takes the lock itself.
/// </summary>
internal sealed class EjectionScheduler : IDisposable
{
    private readonly TimeProvider _time;
    private readonly Action _due;
    private ITimer? _timer;
    private bool _disposed;

    public EjectionScheduler(TimeProvider time, Action due)
    {
        _time = time;
        _due = due;
    }

    /// <summary>When the timer fires next (timestamp), or <see cref="long.MaxValue"/> when it is idle. For tests.</summary>
    public long NextDue { get; private set; } = long.MaxValue;

    /// <summary>Arms the timer for the earliest end of an ejection among <paramref name="endpoints"/>, or stops it.</summary>
    public void Reschedule(EndpointState[] endpoints, long now)
    {
        if (_disposed)
        {
            return;
        }

        var next = long.MaxValue;
        foreach (var e in endpoints)
        {
            if (e.Status == EndpointStatus.Ejected)
            {
                next = Math.Min(next, e.Outlier.EjectedUntil);
            }
        }

        NextDue = next;
        if (next == long.MaxValue)
        {
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        var due = TimeSpan.FromSeconds(Math.Max(next - now, 0) / (double)_time.TimestampFrequency);
        if (_timer is null)
        {
            _timer = _time.CreateTimer(static state => ((EjectionScheduler)state!)._due(), this, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _timer?.Dispose();
        _timer = null;
    }
}
