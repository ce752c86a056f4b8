using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Mesh.Resilience.Internal;

/// <summary>Something <see cref="PreciseTimer"/> wakes at its due time.</summary>
internal interface IPreciseTimerTarget
{
    /// <summary>Called on the timer's thread once the due time has come: must return at once (complete a task whose
    /// continuations run asynchronously, set a flag).</summary>
    void OnDue();

    /// <summary>Whether the target no longer needs firing (its wait ended otherwise): the timer drops it instead of
    /// waking up for it.</summary>
    bool IsDone { get; }
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
/// scheduled. A target is fired at most once; a target whose wait ended early stays queued until it comes first (then it is
/// dropped without a wake-up), so the queue holds at most the targets scheduled within the longest delay.</remarks>
internal sealed class PreciseTimer
{
    // Due times nearer than this fire now: 0.05 ms where nanosleep sleeps out the last millisecond, else 0.6 ms.
    private static readonly long s_slack = OperatingSystem.IsLinux() ? Stopwatch.Frequency / 20_000 : Stopwatch.Frequency * 6 / 10_000;

    // False once nanosleep could not be called (then sleeps fall back to Thread.Sleep).
    private static bool s_nanosleep = OperatingSystem.IsLinux();

    // Below this the thread sleeps instead of waiting on the monitor (whose waits are whole milliseconds).
    private static readonly long s_sleepBelow = Stopwatch.Frequency * 12 / 10_000; // 1.2 ms

    // How much later than asked a monitor wait ends, about (measured on Linux: 0.14–0.19 ms at the median).
    private static readonly long s_waitLateness = Stopwatch.Frequency / 5_000; // 0.2 ms

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
            long sleepUntil = 0;
            lock (_gate)
            {
                while (true)
                {
                    var now = Stopwatch.GetTimestamp();
                    while (_queue.TryPeek(out var target, out var when) && when - now <= s_slack)
                    {
                        _queue.Dequeue();
                        if (!target.IsDone)
                        {
                            due.Add(target);
                        }
                    }

                    if (due.Count > 0)
                    {
                        _waitingUntil = long.MinValue;
                        break;
                    }

                    while (_queue.TryPeek(out var target, out _) && target.IsDone)
                    {
                        _queue.Dequeue();
                    }

                    if (!_queue.TryPeek(out _, out var next))
                    {
                        _waitingUntil = long.MaxValue;
                        if (!Monitor.Wait(_gate, IdleTimeout) && _queue.Count == 0)
                        {
                            // Nothing scheduled for a while: end the thread; the next Schedule starts another.
                            _thread = null;
                            return;
                        }

                        continue;
                    }

                    var remaining = next - now;
                    if (remaining < s_sleepBelow)
                    {
                        // Less than a monitor wait can time: sleep it out (below), without the lock.
                        _waitingUntil = long.MinValue;
                        sleepUntil = next;
                        break;
                    }

                    // A monitor wait of k ms ends about 0.15 ms after k ms: wait the whole milliseconds that end before the
                    // due time, then sleep or wait what is left. A Schedule for sooner wakes this wait.
                    _waitingUntil = next;
                    Monitor.Wait(_gate, (int)Math.Clamp((remaining - s_waitLateness) * 1000 / Stopwatch.Frequency, 1, int.MaxValue));
                }
            }

            if (sleepUntil != 0)
            {
                SleepUntil(sleepUntil);
                continue;
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

    /// <summary>Sleeps until <paramref name="due"/>, less than <see cref="s_sleepBelow"/> away: with nanosleep on Linux
    /// (the kernel's high-resolution timers, about 0.05 ms late), elsewhere for the shortest sleep (1 ms or more; due
    /// times less than the slack away have fired already).</summary>
    private static void SleepUntil(long due)
    {
        var remaining = due - Stopwatch.GetTimestamp();
        if (remaining <= 0)
        {
            return;
        }

        if (s_nanosleep)
        {
            var nanoseconds = (long)(remaining * (1e9 / Stopwatch.Frequency));
            var request = new Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
            try
            {
                _ = NativeMethods.NanoSleep(ref request, IntPtr.Zero); // an early return (a signal) only means another turn
                return;
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                s_nanosleep = false;
            }
        }

        Thread.Sleep(1);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "nanosleep")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int NanoSleep(ref Timespec request, IntPtr remaining);
    }
}
