using Mesh.Http.Internal;
using Mesh.Resilience.Internal;

namespace Mesh.Tests.Http;

/// <summary>
/// The states of an attempt that may outlive its caller (the loser of a hedge, see <see cref="DrainableAttempt"/>),
/// driven step by step: which cancellation detaches it, which cancels its transport at once, and the race of a caller
/// cancelling just as the attempt is being recorded. (<c>HedgeLoserTests</c> shows the whole with real replicas.)
/// </summary>
public sealed class DrainableAttemptTests
{
    /// <summary>A response that says whether it was disposed (a late answer is disposed, which drains its connection).</summary>
    private sealed class TrackedResponse : HttpResponseMessage
    {
        public bool Disposed { get; private set; }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    private static (RequestScope Scope, DrainableAttempt Attempt, CancellationTokenSource Caller, Task<HttpResponseMessage> Task) Start(bool otherAttemptAnswered)
    {
        var scope = new RequestScope();
        scope.Begin(out _); // this attempt
        if (otherAttemptAnswered)
        {
            scope.Begin(out _); // the hedge that wins
            scope.End(failed: false);
        }

        var caller = new CancellationTokenSource();
        var attempt = new DrainableAttempt(scope, caller.Token);
        return (scope, attempt, caller, attempt.Start());
    }

    /// <summary>No attempt of the request is in flight, and none was ended twice: the scope's count is exactly zero (a
    /// new attempt is not concurrent, the one after it is).</summary>
    private static void AssertEndedOnce(RequestScope scope)
    {
        scope.Begin(out var first);
        scope.Begin(out var second);
        Assert.False(first);
        Assert.True(second);
    }

    [Fact]
    public async Task The_loser_of_a_hedge_is_left_by_its_caller_at_once_and_its_late_answer_is_disposed()
    {
        var (scope, attempt, caller, task) = Start(otherAttemptAnswered: true);

        await caller.CancelAsync();

        // The caller has its cancellation now; the transport goes on (for up to the limit), and the attempt has ended
        // in the request's scope.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
        Assert.True(task.IsCanceled);
        Assert.False(attempt.Transport.IsCancellationRequested);
        Assert.False(attempt.TryFinish()); // its recording must leave the request and the scope alone
        AssertEndedOnce(scope);

        var late = new TrackedResponse();
        attempt.Complete(late, null); // its recording, when the transport's answer came
        Assert.True(late.Disposed);
    }

    [Fact]
    public async Task A_caller_that_gives_up_before_any_answer_cancels_the_transport_at_once()
    {
        var (_, attempt, caller, task) = Start(otherAttemptAnswered: false);

        await caller.CancelAsync();

        Assert.True(attempt.Transport.IsCancellationRequested);
        Assert.False(task.IsCompleted); // the caller's task ends with the transport's outcome
        Assert.True(attempt.TryFinish());
        attempt.Complete(null, new OperationCanceledException(attempt.Transport.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
        Assert.True(task.IsCanceled);
    }

    [Fact]
    public async Task An_attempt_recorded_before_its_caller_cancels_is_not_detached_and_its_answer_reaches_the_caller()
    {
        // The race: the attempt's own recording wins (TryFinish), then the caller cancels (the hedging handler took an
        // answer, maybe this one). The attempt is not detached: its scope is ended once, by its recording, and its
        // answer is the caller's to take or dispose.
        var (scope, attempt, caller, task) = Start(otherAttemptAnswered: true);

        Assert.True(attempt.TryFinish());
        await caller.CancelAsync();
        Assert.True(attempt.Transport.IsCancellationRequested);
        Assert.False(task.IsCompleted);

        var answer = new TrackedResponse();
        scope.End(failed: false); // what the recording does after TryFinish
        attempt.Complete(answer, null);
        Assert.Same(answer, await task);
        Assert.False(answer.Disposed);
        AssertEndedOnce(scope);
    }

    [Fact]
    public async Task An_attempt_that_fails_passes_its_exception_to_the_caller()
    {
        var (_, attempt, _, task) = Start(otherAttemptAnswered: false);
        var failure = new HttpRequestException("connection refused");

        attempt.Complete(null, failure);

        Assert.Same(failure, await Assert.ThrowsAsync<HttpRequestException>(() => task));
    }

    [Fact]
    public async Task An_attempt_that_answers_hands_its_response_to_the_caller_inline_as_an_async_methods_task_would()
    {
        // No thread pool hop between the recorded answer and the hedging handler: the continuation runs inside Complete.
        var (_, attempt, caller, task) = Start(otherAttemptAnswered: false);
        int? continuedOn = null;
        var continuation = task.ContinueWith(_ => continuedOn = Environment.CurrentManagedThreadId, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        using var response = new TrackedResponse();

        attempt.Complete(response, null);

        Assert.True(continuation.IsCompleted, "the continuation ran before Complete returned");
        Assert.Equal(Environment.CurrentManagedThreadId, continuedOn);
        Assert.Same(response, await task);
        Assert.False(response.Disposed);
        caller.Dispose();
    }
}
