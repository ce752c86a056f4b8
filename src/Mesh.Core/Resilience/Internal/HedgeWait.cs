namespace Mesh.Resilience.Internal;

/// <summary>
/// One wait of <c>AddMeshHedging()</c>'s delay: completes with <see langword="true"/> when the delay is over (the
/// <see cref="PreciseTimer"/> fired: send the hedge now) or <see langword="false"/> when an attempt of the request
/// ended first or the request was cancelled (let the hedging handler take that outcome). Whichever comes first wins.
/// <para>
/// The end of an attempt completes the wait inline, as an <c>async</c> method's task would: its continuation (the
/// hedging handler asking for the attempt's outcome) runs on the thread that recorded the attempt, without a thread
/// pool hop on every request that is not hedged. The timer and a cancellation complete it from the thread pool instead
/// (<see cref="IThreadPoolWorkItem"/>): never on the timer's thread, never inside a <c>Cancel()</c>.
/// </para>
/// </summary>
internal sealed class HedgeWait() : TaskCompletionSource<bool>(TaskCreationOptions.None), IPreciseTimerTarget, IThreadPoolWorkItem
{
    private const int NotPosted = 0;
    private const int PostedDue = 1;
    private const int PostedCancelled = 2;

    private int _posted;

    /// <inheritdoc />
    public void OnDue() => Post(PostedDue);

    /// <inheritdoc />
    public bool IsDone => Task.IsCompleted || Volatile.Read(ref _posted) != NotPosted;

    /// <summary>An attempt of the request ended: called as the mesh records that end (<see cref="RequestScope.End"/>),
    /// just before the attempt's own task completes. The wait's continuation runs here, inline: the hedging handler is
    /// told to wait for that attempt's outcome, which reaches it a moment later on this same thread.</summary>
    public void OnAttemptEnded() => TrySetResult(false);

    /// <summary>The request was cancelled (called inside <see cref="CancellationTokenSource.Cancel()"/>).</summary>
    public void OnCancelled() => Post(PostedCancelled);

    private void Post(int reason)
    {
        if (Interlocked.CompareExchange(ref _posted, reason, NotPosted) == NotPosted)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <inheritdoc />
    void IThreadPoolWorkItem.Execute() => TrySetResult(Volatile.Read(ref _posted) == PostedDue);

    /// <summary>Starts a wait that ends when <paramref name="delay"/> is over (its task's result <see langword="true"/>:
    /// send the hedge now) or when the next attempt of the request that was sent ends first (<see langword="false"/>).
    /// The delay runs on the <see cref="PreciseTimer"/> when <paramref name="precise"/>, else on a timer of
    /// <paramref name="time"/>, returned in <paramref name="timer"/> to be disposed. Once the wait ended early, call
    /// <see cref="RequestScope.StopWatching"/>.</summary>
    /// <param name="scope">The request's scope, whose attempts end the wait.</param>
    /// <param name="delay">The hedging delay, counted from now.</param>
    /// <param name="time">The time provider of the service (a fake one in tests).</param>
    /// <param name="precise">Whether to wait on the <see cref="PreciseTimer"/> (only with the system's time).</param>
    /// <param name="timer">The timer of <paramref name="time"/> the wait uses, if any.</param>
    public static HedgeWait Start(RequestScope scope, TimeSpan delay, TimeProvider time, bool precise, out ITimer? timer)
    {
        var due = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(delay.Ticks * ((double)System.Diagnostics.Stopwatch.Frequency / TimeSpan.TicksPerSecond));
        var wait = new HedgeWait();
        scope.WatchNextEnd(wait);
        timer = null;
        if (!wait.Task.IsCompleted)
        {
            if (precise)
            {
                PreciseTimer.Shared.Schedule(due, wait);
            }
            else
            {
                timer = time.CreateTimer(static state => ((HedgeWait)state!).OnDue(), wait, delay, Timeout.InfiniteTimeSpan);
            }
        }

        return wait;
    }
}
