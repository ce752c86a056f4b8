using Mesh.Endpoints.Internal;
using Mesh.LoadBalancing.Internal;
using Mesh.Services.Internal;

namespace Mesh.Resilience.Internal;

/// <summary>
/// Everything the attempts of one logical request share, whoever sends them: the standard resilience handler's retries
/// (the same <see cref="HttpRequestMessage"/> resent), the standard hedging handler's hedged copies (new messages cloned
/// from a snapshot of the original, whose <see cref="HttpRequestMessage.Options"/> — and so this scope — they share by
/// reference) and gRPC's own retries. Created by the outermost handler of a mesh client (before any resilience handler
/// takes its snapshot) and stored in the request's options; created by the mesh handler itself when a request arrives
/// without one. Thread-safe: hedged attempts run at the same time.
/// </summary>
internal sealed class RequestScope
{
    /// <summary>Where the scope lives in a request's options.</summary>
    public static readonly HttpRequestOptionsKey<RequestScope> Key = new("Mesh.RequestScope");

    private int _attempts;
    private int _inFlight;
    private EndpointState? _cancelledBy;
    private ServiceRuntime? _service;
    private TaskCompletionSource? _idle;
    private HedgeWait? _endWatcher;
    private volatile bool _lastFailed;
    private volatile bool _answered;

    /// <summary>The service the request went to (set by its first attempt).</summary>
    public ServiceRuntime? Service { get => Volatile.Read(ref _service); set => Volatile.Write(ref _service, value); }

    /// <summary>Whether the client the request was sent with hedges (set by its scope handler; null for a scope the mesh
    /// handler made after a failed attempt, of a client without handlers of its own, which cannot hedge).</summary>
    public ClientHedgingFlag? Client { get; set; }

    /// <summary>Whether the request's client hedges: its attempts may outlive a lost hedge.</summary>
    public bool ClientHedges => Client is { Hedges: true };

    /// <summary>Attempts in flight now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The endpoints the request's attempts used or are using: later attempts (retries, hedges) avoid them.</summary>
    public TriedEndpoints Used { get; } = new();

    /// <summary>Whether an attempt of the request ended with an answer the caller can use (see <see cref="End"/>).</summary>
    public bool Answered => _answered;

    /// <summary>Attempts started so far.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>Starts an attempt: returns its index (0 for the first) and whether another attempt of the request is in
    /// flight (then this one is a hedge).</summary>
    public int Begin(out bool concurrent)
    {
        concurrent = Interlocked.Increment(ref _inFlight) > 1;
        return Interlocked.Increment(ref _attempts) - 1;
    }

    /// <summary>Ends an attempt; <paramref name="failed"/>: whether an attempt that was sent ended without an answer the
    /// caller can use (a failure, a timeout, a cancellation, an error status); null for one that was never sent.</summary>
    public void End(bool? failed = null)
    {
        if (failed is { } value)
        {
            _lastFailed = value;
            if (!value)
            {
                _answered = true;
            }

            Interlocked.Exchange(ref _endWatcher, null)?.OnAttemptEnded();
        }

        if (Interlocked.Decrement(ref _inFlight) == 0 && _lastFailed)
        {
            Volatile.Read(ref _idle)?.TrySetResult();
        }
    }

    /// <summary>Completes when no attempt of the request is in flight and the last one failed — when the request still
    /// needs an attempt (a refused hedge waits for it; allocates only then). After an answer it completes only by
    /// <paramref name="cancellationToken"/>: the hedging handler took the answer and cancels the attempts it no longer
    /// needs.</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        var idle = Volatile.Read(ref _idle);
        if (idle is null || idle.Task.IsCompleted)
        {
            var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            idle = Interlocked.CompareExchange(ref _idle, fresh, idle) == idle ? fresh : Volatile.Read(ref _idle)!;
        }

        if (Volatile.Read(ref _inFlight) == 0 && _lastFailed)
        {
            idle.TrySetResult();
        }

        return idle.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Wakes <paramref name="wait"/> when the next attempt of the request that was sent ends (answered, failed or
    /// cancelled) — at once when none is in flight. One watcher at a time: the hedging handler asks for one delay at a
    /// time.</summary>
    public void WatchNextEnd(HedgeWait wait)
    {
        Volatile.Write(ref _endWatcher, wait);
        if (Volatile.Read(ref _inFlight) == 0)
        {
            Interlocked.CompareExchange(ref _endWatcher, null, wait);
            wait.OnAttemptEnded();
        }
    }

    /// <summary>Stops watching for <paramref name="wait"/> (its delay ended first).</summary>
    public void StopWatching(HedgeWait wait) => Interlocked.CompareExchange(ref _endWatcher, null, wait);

    /// <summary>Remembers that an attempt to <paramref name="endpoint"/> ended by cancellation: if the request goes on
    /// with another attempt, the cancellation was an outer per-attempt timeout, not the caller giving up.</summary>
    public void Cancelled(EndpointState endpoint) => Volatile.Write(ref _cancelledBy, endpoint);

    /// <summary>Takes the endpoint of an earlier attempt that ended by cancellation, if any.</summary>
    public EndpointState? TakeCancelled() => Interlocked.Exchange(ref _cancelledBy, null);

    /// <summary>The scope of <paramref name="request"/>, created when it has none.</summary>
    public static RequestScope Of(HttpRequestMessage request)
    {
        var options = request.Options;
        if (options.TryGetValue(Key, out var scope))
        {
            return scope;
        }

        scope = new RequestScope();
        options.Set(Key, scope);
        return scope;
    }
}
