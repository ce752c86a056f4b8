using Mesh.Resilience.Internal;

namespace Mesh.Http.Internal;

/// <summary>
/// An attempt whose transport runs on the mesh's own cancellation, so that the loser of a hedge can be let finish
/// instead of being cancelled.
/// <para>
/// Cancelling an HTTP/1.1 request before its response has been read closes its connection (the transport cannot tell
/// where the unread response ends), and the next request to that replica pays for a new one (a TCP handshake, with
/// mutual TLS a TLS handshake on both sides). With hedging, every hedge whose copy loses costs a connection: in the
/// <c>tail-network</c> bench about one connection per hedge, and a higher all-healthy p99 with hedging than without.
/// So for a service that hedges, an attempt's transport gets a token of the mesh's own. When the caller cancels the
/// attempt <em>after another attempt of the same request answered</em> (the hedging handler took the winner's answer
/// and cancels the rest), the caller is answered at once with the cancellation, and the transport goes on for up to
/// <see cref="Limit"/>: when the response comes, it is disposed — the transport reads out the rest of a small body and
/// returns the connection to its pool — and the attempt is recorded with its true latency (so the balancer and the
/// latency histogram see how late the loser really was, not when it was cancelled). Any other cancellation (the
/// caller gave up, an outer per-attempt timeout) cancels the transport at once, as before.
/// </para>
/// <para>
/// Only for requests without content (a body may be disposed by its owner once the caller has its answer); not for
/// probes. Allocates a cancellation source, a completion source and a registration per attempt, so it is used only
/// for the requests of clients that hedge (<see cref="ClientHedgingFlag"/>), not for other clients of the same service.
/// </para>
/// </summary>
internal sealed class DrainableAttempt
{
    /// <summary>How long the loser of a hedge may go on after the caller left it; then it is cancelled (and its
    /// connection closed) as any cancelled attempt.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(1);

    private const int StateRunning = 0;
    private const int StateDetached = 1;
    private const int StateFinished = 2;

    private readonly CancellationTokenSource _transport = new();
    // Continuations run inline, as an async method's would: the outcome of an attempt reaches the hedging handler on the
    // thread that recorded it, without a thread pool hop per request.
    private readonly TaskCompletionSource<HttpResponseMessage> _caller = new(TaskCreationOptions.None);
    private readonly RequestScope _scope;
    private readonly CancellationToken _callerToken;
    private CancellationTokenRegistration _registration;
    private int _state; // StateRunning, then StateDetached (the caller left it) or StateFinished (recorded while the caller waited)

    public DrainableAttempt(RequestScope scope, CancellationToken callerToken)
    {
        _scope = scope;
        _callerToken = callerToken;
    }

    /// <summary>The source of the token the transport runs on: an attempt timeout cancels it (<c>CancelAfter</c>).</summary>
    public CancellationTokenSource Transport => _transport;

    /// <summary>Called by the attempt's recording before it ends the attempt in its scope: true to go on (from now on
    /// the caller cannot leave the attempt), false when the caller left it already (it lost a hedge and its transport
    /// went on without it: its end must not touch the request or its scope).</summary>
    public bool TryFinish() => Interlocked.CompareExchange(ref _state, StateFinished, StateRunning) != StateDetached;

    /// <summary>Starts watching the caller's token; returns the task the caller awaits, which completes with the
    /// attempt's outcome (<see cref="Complete"/>, called once it is recorded) or, once detached, with the cancellation.</summary>
    public Task<HttpResponseMessage> Start()
    {
        _registration = _callerToken.UnsafeRegister(static state => ((DrainableAttempt)state!).OnCallerCancelled(), this);
        return _caller.Task;
    }

    private void OnCallerCancelled()
    {
        try
        {
            if (_scope.Answered && Interlocked.CompareExchange(ref _state, StateDetached, StateRunning) == StateRunning)
            {
                // Another attempt answered: this one lost a hedge. The request is done with it (its scope too), the
                // transport is not: it may finish within the limit and keep its connection.
                _scope.End();
                _transport.CancelAfter(Limit);
                _caller.TrySetCanceled(_callerToken); // last: its continuations run here, inside the caller's Cancel()
            }
            else
            {
                _transport.Cancel();
            }
        }
        catch (ObjectDisposedException)
        {
            // The attempt ended meanwhile.
        }
    }

    /// <summary>The attempt was recorded: its response, or what the caller gets instead (<paramref name="error"/>),
    /// goes to the caller unless the caller left it already; a response nobody takes any more is disposed.</summary>
    public void Complete(HttpResponseMessage? response, Exception? error)
    {
        _registration.Unregister();
        _transport.Dispose(); // the transport ended: before the caller's continuations, which run inline
        if (error is null)
        {
            if (!_caller.TrySetResult(response!))
            {
                response!.Dispose(); // the loser's late answer: reading out its body keeps the connection
            }
        }
        else if (error is OperationCanceledException)
        {
            _caller.TrySetCanceled(_callerToken.IsCancellationRequested ? _callerToken : CancellationToken.None);
        }
        else
        {
            _caller.TrySetException(error);
        }
    }
}
