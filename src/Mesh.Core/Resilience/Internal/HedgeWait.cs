namespace Mesh.Resilience.Internal;

/// <summary>
/// One wait of <c>AddMeshHedging()</c>'s delay: completes with <see langword="true"/> when the delay is over (the
/// <see cref="PreciseTimer"/> fired: send the hedge now) or <see langword="false"/> when an attempt of the request
/// ended first or the request was cancelled (let the hedging handler take that outcome). Whichever comes first wins;
/// continuations run on the thread pool, never on the timer's thread or inside the mesh handler.
/// </summary>
internal sealed class HedgeWait() : TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously), IPreciseTimerTarget
{
    /// <inheritdoc />
    public void OnDue() => TrySetResult(true);

    /// <inheritdoc />
    public bool IsDone => Task.IsCompleted;

    /// <summary>An attempt of the request ended, or the request was cancelled.</summary>
    public void OnAttemptEnded() => TrySetResult(false);
}
