using System.Diagnostics;

namespace Mesh.Resilience.Internal;

/// <summary>Something <see cref="PreciseTimer"/> wakes at its due time.</summary>
internal interface IPreciseTimerTarget
{
    /// <summary>Called on the timer's thread once the due time has come: must return at once (complete a task whose
    /// continuations run asynchronously, set a flag).</summary>
    void OnDue();
}

/// <summary>
/// A timer for short delays that fires close to its due time, for the hedging delay. .NET's timers
/// (<c>Task.Delay</c>, <see cref="TimeProvider.CreateTimer"/>) keep their due times in the coarse tick count, which
/// on Linux follows the kernel's tick: measured on a 250 Hz kernel, <c>Task.Delay(1)</c> returned after 3.9 ms
/// (median) and <c>Task.Delay(5)</c> after 8.6 ms — more than a millisecond-scale hedging delay itself. This timer
/// keeps due times in <see cref="Stopwatch"/> ticks and waits on one background thread with a monitor wait, which the
/// kernel's high-resolution timers end about 0.15 ms after the asked-for millisecond.
/// </summary>
/// <remarks>One thread per process, started on first use, parked while nothing is due and ended after 30 s with nothing
/// scheduled. A target is fired at most once; targets are not removed when their wait ends early (they fire
/// harmlessly), so the queue holds at most the targets scheduled within the longest delay.</remarks>
internal sealed class PreciseTimer
{
    // Due times nearer than this fire now: a further wait of at least 1 ms would be later than this is early.
    private static readonly long s_slack = Stopwatch.Frequency / 4_000; // 0.25 ms

    // How long the thread stays parked with nothing scheduled before it ends.
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    private readonly PriorityQueue<IPreciseTimerTarget, long> _queue = new();
    private readonly object _gate = new();
    private Thread? _thread;

    // The due time the thread waits for; long.MinValue while it fires targets (not waiting).
    private long _waitingUntil = long.MinValue;

    /// <summary>The process's timer.</summary>
    public static PreciseTimer Shared { get; } = new();

    /// <summary>Targets scheduled and not yet fired.</summary>
    public int Pending
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Fires <paramref name="target"/> at <paramref name="dueTimestamp"/> (a <see cref="Stopwatch"/> timestamp)
    /// or shortly after.</summary>
    public void Schedule(long dueTimestamp, IPreciseTimerTarget target)
    {
        lock (_gate)
        {
            _queue.Enqueue(target, dueTimestamp);
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "Mesh precise timer" };
                _thread.Start();
            }
            else if (dueTimestamp < _waitingUntil)
            {
                // Due before the thread's current wait ends: wake it to wait less.
                Monitor.Pulse(_gate);
            }
        }
    }

    private void Run()
    {
        var due = new List<IPreciseTimerTarget>();
        while (true)
        {
            lock (_gate)
            {
                while (true)
                {
                    var now = Stopwatch.GetTimestamp();
                    while (_queue.TryPeek(out var target, out var when) && when - now <= s_slack)
                    {
                        _queue.Dequeue();
                        due.Add(target);
                    }

                    if (due.Count > 0)
                    {
                        _waitingUntil = long.MinValue;
                        break;
                    }

                    if (_queue.TryPeek(out _, out var next))
                    {
                        // Whole milliseconds, at least one: the wait ends ~0.15 ms after them; what is left below the
                        // slack fires on the next turn.
                        _waitingUntil = next;
                        Monitor.Wait(_gate, (int)Math.Clamp((next - now) * 1000 / Stopwatch.Frequency, 1, int.MaxValue));
                    }
                    else
                    {
                        _waitingUntil = long.MaxValue;
                        if (!Monitor.Wait(_gate, IdleTimeout) && _queue.Count == 0)
                        {
                            // Nothing scheduled for a while: end the thread; the next Schedule starts another.
                            _thread = null;
                            return;
                        }
                    }
                }
            }

            foreach (var target in due)
            {
                try
                {
                    target.OnDue();
                }
                catch (Exception ex)
                {
                    // A target must not stop the timer for the others; the targets in this assembly do not throw.
                    Debug.Fail($"A precise timer target threw: {ex}");
                }
            }

            due.Clear();
        }
    }
}
