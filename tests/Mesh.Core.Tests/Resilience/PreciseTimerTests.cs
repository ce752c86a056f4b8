using System.Diagnostics;
using Mesh.Resilience.Internal;

namespace Mesh.Tests.Resilience;

/// <summary>The timer <c>AddMeshHedging()</c> waits its delay on, and how a wait ends: the delay is over (send the
/// hedge) or an attempt of the request ended first (take its outcome).</summary>
public sealed class PreciseTimerTests
{
    private static readonly long Slack = Stopwatch.Frequency * 6 / 10_000; // the most the timer fires early (0.6 ms; 0.05 ms on Linux)

    private sealed class Recorder(long due, bool done = false) : IPreciseTimerTarget
    {
        private readonly TaskCompletionSource<long> _fired = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Due { get; } = due;

        public Task<long> Fired => _fired.Task;

        public bool IsDone => done;

        public void OnDue()
        {
            // The timestamp the timer fired at, and whether it fired twice (TrySetResult would hide that).
            if (!_fired.TrySetResult(Stopwatch.GetTimestamp()))
            {
                throw new InvalidOperationException("fired twice");
            }
        }
    }

    [Fact]
    public async Task Every_target_fires_once_in_due_order_and_none_before_its_due_time()
    {
        var timer = new PreciseTimer();
        var random = new Random(7);
        // Due from 100 ms on: all are scheduled before the first is due, even on a loaded host (a target scheduled after
        // its due time fires at once, out of due order, as it should; under load a test due at once failed so).
        var now = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
        var targets = Enumerable.Range(0, 60).Select(_ => new Recorder(now + random.NextInt64(0, Stopwatch.Frequency / 30))).ToList();
        foreach (var target in targets)
        {
            timer.Schedule(target.Due, target); // in random order of due time
        }

        await Task.WhenAll(targets.Select(t => t.Fired)).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.All(targets, t => Assert.True(t.Fired.Result >= t.Due - Slack, $"fired {(t.Due - t.Fired.Result) * 1000.0 / Stopwatch.Frequency:F3} ms early"));
        var byDue = targets.OrderBy(t => t.Due).Select(t => t.Fired.Result).ToList();
        Assert.Equal(byDue.Order(), byDue);
        Assert.Equal(0, timer.Pending);
    }

    [Fact]
    public async Task A_target_due_sooner_than_the_current_wait_wakes_the_timer()
    {
        var timer = new PreciseTimer();
        var late = new Recorder(Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30);
        timer.Schedule(late.Due, late);
        await Task.Delay(50, TestContext.Current.CancellationToken); // the timer thread now waits for the late one

        var soon = new Recorder(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 200);
        timer.Schedule(soon.Due, soon);

        await soon.Fired.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.False(late.Fired.IsCompleted);
        Assert.Equal(1, timer.Pending);
    }

    [Fact]
    public async Task A_target_whose_wait_ended_otherwise_is_dropped_without_firing()
    {
        var timer = new PreciseTimer();
        var now = Stopwatch.GetTimestamp();
        var done = new Recorder(now + Stopwatch.Frequency / 100, done: true);
        var live = new Recorder(now + Stopwatch.Frequency / 50);
        timer.Schedule(done.Due, done);
        timer.Schedule(live.Due, live);

        await live.Fired.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.False(done.Fired.IsCompleted);
        Assert.Equal(0, timer.Pending);
    }

    [Fact]
    public async Task A_hedge_wait_ends_with_the_delay_or_with_the_next_attempt_that_was_sent_whichever_comes_first()
    {
        // No attempt in flight: nothing to wait for.
        var idle = new RequestScope();
        var nothingInFlight = new HedgeWait();
        idle.WatchNextEnd(nothingInFlight);
        Assert.False(await nothingInFlight.Task);

        // An attempt in flight: a hedge the budget refused (never sent) does not end the wait; the attempt's end does.
        var scope = new RequestScope();
        scope.Begin(out _);
        scope.Begin(out _);
        var wait = new HedgeWait();
        scope.WatchNextEnd(wait);
        scope.End(); // the refused hedge
        Assert.False(wait.Task.IsCompleted);
        scope.End(failed: false);
        Assert.False(await wait.Task);
        wait.OnDue(); // the timer fires later: the first outcome stands
        Assert.False(await wait.Task);

        // The delay over first: the attempt that ends later does not change it, and the watch is gone.
        var slow = new RequestScope();
        slow.Begin(out _);
        var delayed = new HedgeWait();
        slow.WatchNextEnd(delayed);
        delayed.OnDue();
        slow.StopWatching(delayed);
        slow.End(failed: true);
        Assert.True(await delayed.Task);
    }

    [Fact]
    public async Task The_end_of_an_attempt_completes_a_hedge_wait_inline_on_the_thread_that_recorded_it()
    {
        // What an async method's task does: the hedging handler's continuation (asking for the attempt's outcome) runs
        // here, not after a thread pool hop — every request of a hedging client that is not hedged goes this way.
        var scope = new RequestScope();
        scope.Begin(out _);
        var wait = new HedgeWait();
        scope.WatchNextEnd(wait);
        int? continuedOn = null;
        var continuation = wait.Task.ContinueWith(_ => continuedOn = Environment.CurrentManagedThreadId, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        scope.End(failed: false);

        Assert.True(continuation.IsCompleted, "the continuation ran before End returned");
        Assert.Equal(Environment.CurrentManagedThreadId, continuedOn);
        Assert.False(await wait.Task);
        Assert.True(wait.IsDone);
    }

    [Fact]
    public async Task The_timer_and_a_cancellation_complete_a_hedge_wait_on_the_thread_pool_never_on_their_own_thread()
    {
        // The timer's thread must go on firing other waits; a Cancel() must not run the hedging handler inside it.
        foreach (var (fire, expected) in new (Action<HedgeWait>, bool)[] { (w => w.OnDue(), true), (w => w.OnCancelled(), false) })
        {
            var wait = new HedgeWait();
            using var firing = new ManualResetEventSlim();
            int? continuedOn = null;
            var onPool = false;
            var continuation = wait.Task.ContinueWith(_ =>
            {
                firing.Wait(TimeSpan.FromSeconds(10)); // still inside fire(w) if it ran inline: it would wait here in vain
                continuedOn = Environment.CurrentManagedThreadId;
                onPool = Thread.CurrentThread.IsThreadPoolThread;
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

            int firedOn = 0;
            var doneOnceFired = false;
            var thread = new Thread(() =>
            {
                firedOn = Environment.CurrentManagedThreadId;
                fire(wait);
                doneOnceFired = wait.IsDone; // the timer drops it from now on, before its task completes
                firing.Set();
            });
            thread.Start();
            await continuation.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            thread.Join();

            Assert.True(doneOnceFired);
            Assert.Equal(expected, await wait.Task);
            Assert.NotEqual(firedOn, continuedOn);
            Assert.True(onPool);

            wait.OnAttemptEnded(); // too late: the first outcome stands
            Assert.Equal(expected, await wait.Task);
        }
    }
}
