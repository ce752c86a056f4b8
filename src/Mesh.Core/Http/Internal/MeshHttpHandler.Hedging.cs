using System.Diagnostics;
using Mesh.Resilience.Internal;
using Mesh.Services.Internal;

namespace Mesh.Http.Internal;

internal sealed partial class MeshHttpHandler
{
    /// <summary>
    /// Sends an attempt, hedged by the mesh itself when the service has <c>Hedging:Enabled</c> and the request may be
    /// hedged (<see cref="MayHedge"/>); otherwise exactly <see cref="Send"/>.
    /// </summary>
    private Task<HttpResponseMessage> SendOrHedge(HttpRequestMessage request, Uri logical, ServiceRuntime service, RequestScope? scope, CancellationToken cancellationToken)
    {
        if (!service.Settings.Hedging.Enabled || !MayHedge(request, scope))
        {
            return Send(request, logical, service, scope, cancellationToken);
        }

        var delay = service.HedgingDelay();
        if (delay == Timeout.InfiniteTimeSpan)
        {
            // The hedge budget is spent (HedgingDelay counted the refusal): the request goes as any other.
            return Send(request, logical, service, scope, cancellationToken);
        }

        // A request without a scope comes from a client with no handler of its own, which cannot resend it: the scope
        // its two attempts share need not go into its options (240 bytes).
        return HedgeAsync(request, logical, service, scope ?? new RequestScope(), delay, cancellationToken);
    }

    /// <summary>Whether the mesh may hedge <paramref name="request"/>: a safe method (<c>GET</c>, <c>HEAD</c>,
    /// <c>OPTIONS</c>) without content — sending it twice changes nothing, and it can be copied while its first attempt
    /// runs — that is not an attempt of a request something else hedges (a client with a hedging handler, or a request
    /// with another attempt in flight).</summary>
    private static bool MayHedge(HttpRequestMessage request, RequestScope? scope) =>
        request.Content is null
        && (request.Method == HttpMethod.Get || request.Method == HttpMethod.Head || request.Method == HttpMethod.Options)
        && (scope is null || (!scope.ClientHedges && scope.InFlight == 0));

    /// <summary>
    /// The mesh's own hedging (<c>Hedging:Enabled</c>): sends the request; when it has not ended after
    /// <paramref name="delay"/> (the service's hedging delay), sends one copy to an endpoint no attempt of the request
    /// used, charged to the hedge budget (no copy when the budget is spent or every routable endpoint was used), and
    /// answers with the first usable answer. The attempt that lost is let go on for up to
    /// <see cref="DrainableAttempt.Limit"/>, so that its answer is read and its connection kept (cancelled at once, an
    /// HTTP/1.1 request closes its connection), and is recorded with its true latency, but no longer touches the request
    /// (<see cref="MeshHedge.TryFinish"/>). An attempt that ends without a usable answer before the delay is not hedged (that
    /// is for retries); one that fails while the other runs waits for the other, and when both fail the later failure
    /// is the answer. The caller's cancellation cancels both attempts at once.
    /// </summary>
    private async Task<HttpResponseMessage> HedgeAsync(HttpRequestMessage request, Uri logical, ServiceRuntime service, RequestScope scope, TimeSpan delay, CancellationToken cancellationToken)
    {
        // Read now: once the first attempt runs, its end may write the request's options (see Answer).
        string? hashKey = null;
        if (service.Settings.UsesHashing && RequestOptions.Existing(request) is { } options && options.TryGetValue(MeshRequestOptions.HashKey, out var key))
        {
            hashKey = key;
        }

        var hedge = new MeshHedge(scope, cancellationToken);
        var primary = Send(request, logical, service, scope, hedge.Primary.Token, hedge);
        var env = service.Environment;
        if (!primary.IsCompleted)
        {
            var precise = ReferenceEquals(env.Time, TimeProvider.System)
                && !(AppContext.TryGetSwitch(MeshHedgingDelay.UseSystemTimerSwitch, out var useSystemTimer) && useSystemTimer);

            // Ends when the delay is over or the first attempt ends (also by the caller's cancellation, which it shares).
            var wait = HedgeWait.Start(scope, delay, env.Time, precise, out var timer);
            var over = await wait.Task.ConfigureAwait(false);
            timer?.Dispose();
            if (!over)
            {
                scope.StopWatching(wait);
            }
            else if (!primary.IsCompleted && !cancellationToken.IsCancellationRequested && TryChargeHedge(service, scope))
            {
                var copy = Send(Copy(request, logical, hashKey), logical, service, scope, hedge.StartCopy(), hedge, copy: true);
                return await FirstUsableAsync(request, primary, copy, hedge).ConfigureAwait(false);
            }
        }

        try
        {
            return await primary.ConfigureAwait(false);
        }
        finally
        {
            hedge.Primary.Dispose();
        }
    }

    /// <summary>Whether a copy may be sent: an endpoint no attempt of the request used is there, and the hedge budget
    /// allows it (a refusal is counted).</summary>
    private static bool TryChargeHedge(ServiceRuntime service, RequestScope scope)
    {
        if (!HasUntried(service, scope))
        {
            // Every endpoint a copy could go to is in use by this request or was tried by it: a copy would wait where
            // this request already waits, or fail where it failed.
            return false;
        }

        var env = service.Environment;
        var sent = service.HedgeBudget.TryRetry(env.Now());
        env.Metrics.RecordHedge(service.Name, sent);
        return sent;
    }

    /// <summary>The first usable outcome of the two attempts (else the later one's); the other attempt is let go (see
    /// <see cref="HedgeAsync"/>). When the copy answers, the caller still gets its own request back: the response's
    /// <see cref="HttpResponseMessage.RequestMessage"/> is <paramref name="request"/>, whose URI and options name the
    /// endpoint that answered, as after any attempt.</summary>
    private static async Task<HttpResponseMessage> FirstUsableAsync(HttpRequestMessage request, Task<HttpResponseMessage> primary, Task<HttpResponseMessage> copy, MeshHedge hedge)
    {
        var first = await Task.WhenAny(primary, copy).ConfigureAwait(false);
        var firstIsCopy = ReferenceEquals(first, copy);
        var other = firstIsCopy ? primary : copy;
        if (!IsUsable(first) && !other.IsCompleted)
        {
            // The first to end has no usable answer: the other may have one (else its failure, the later, is the answer).
            await ((Task)other).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            (first, other, firstIsCopy) = (other, first, !firstIsCopy);
        }
        else if (!IsUsable(first) && IsUsable(other))
        {
            (first, other, firstIsCopy) = (other, first, !firstIsCopy);
        }

        if (hedge.LetGo(other, copy: !firstIsCopy) is { } ending)
        {
            // The other attempt was being recorded as it lost (its end may still write the request): let that finish first.
            await ((Task)ending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        hedge.Dispose(firstIsCopy);
        var response = await first.ConfigureAwait(false);
        if (firstIsCopy && response.RequestMessage is { } sent && !ReferenceEquals(sent, request))
        {
            request.RequestUri = sent.RequestUri;
            request.Method = sent.Method; // carries the endpoint that answered (see AnsweredMethod)
            if (RequestOptions.Existing(request) is { } options && response.GetMeshEndpoint() is { } endpoint)
            {
                options.Set(MeshRequestOptions.Endpoint, endpoint);
            }

            response.RequestMessage = request;
        }

        return response;
    }

    /// <summary>Whether the service has a routable endpoint no attempt of the request used (most often the first looked at).</summary>
    private static bool HasUntried(ServiceRuntime service, RequestScope scope)
    {
        foreach (var endpoint in service.Endpoints)
        {
            if (endpoint.IsRoutable && !scope.Used.Contains(endpoint))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether an attempt ended with an answer the caller can use — not an exception, a cancellation, a server
    /// error, <c>408</c> or <c>429</c> (what the standard resilience handlers treat as transient).</summary>
    private static bool IsUsable(Task<HttpResponseMessage> attempt) =>
        attempt.IsCompletedSuccessfully && (int)attempt.Result.StatusCode is < 500 and not 408 and not 429;

    /// <summary>The copy of <paramref name="request"/> the hedge sends: its method, logical URI, version and headers
    /// (read without validation, which changes nothing while its first attempt runs), without the trace context headers
    /// that attempt's span put there (the copy's span puts its own). Of its options the copy needs only the hashing key:
    /// the attempts share the request's scope through <see cref="Send"/>.</summary>
    private static HttpRequestMessage Copy(HttpRequestMessage request, Uri logical, string? hashKey)
    {
        var copy = new HttpRequestMessage(AnsweredMethod.OriginalOf(request.Method), logical) { Version = request.Version, VersionPolicy = request.VersionPolicy };
        var propagated = DistributedContextPropagator.Current.Fields;
        foreach (var header in request.Headers.NonValidated)
        {
            // A Host equal to the logical authority is the one the first attempt's rewrite to a plain-http endpoint
            // added: the copy's own attempt decides (none to an https endpoint).
            var addedHost = string.Equals(header.Key, "Host", StringComparison.OrdinalIgnoreCase)
                && string.Equals(header.Value.ToString(), logical.Authority, StringComparison.OrdinalIgnoreCase);
            if (!addedHost && !propagated.Contains(header.Key, StringComparer.OrdinalIgnoreCase))
            {
                copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        if (hashKey is not null)
        {
            copy.Options.Set(MeshRequestOptions.HashKey, hashKey);
        }

        return copy;
    }

    /// <summary>
    /// One request the mesh hedges itself: the cancellation of each of its two attempts (linked to the caller's, so the
    /// caller's cancellation ends both at once), and whether each one is still the request's: the attempt that lost is
    /// let go (<see cref="LetGo"/>) and, when it ends later, no longer touches the request or its scope
    /// (<see cref="TryFinish"/>), as a hedging handler's loser does (<see cref="DrainableAttempt"/>).
    /// </summary>
    internal sealed class MeshHedge
    {
        private const int Running = 0;
        private const int LetGone = 1;
        private const int Finished = 2;

        private readonly CancellationToken _caller;
        private readonly RequestScope _scope;
        private CancellationTokenSource? _copy;
        private int _primaryState;
        private int _copyState;

        public MeshHedge(RequestScope scope, CancellationToken caller)
        {
            _scope = scope;
            _caller = caller;
            Primary = NewSource(caller);
        }

        /// <summary>The cancellation of the first attempt.</summary>
        public CancellationTokenSource Primary { get; }

        /// <summary>Makes the cancellation of the copy (most requests have none) and returns its token.</summary>
        public CancellationToken StartCopy()
        {
            _copy = NewSource(_caller);
            return _copy.Token;
        }

        /// <summary>Called as an attempt's end is recorded, before it ends in the scope: true to go on, false when the
        /// attempt was let go already (it lost, and the request is not its own any more).</summary>
        public bool TryFinish(bool copy) => Interlocked.CompareExchange(ref copy ? ref _copyState : ref _primaryState, Finished, Running) != LetGone;

        /// <summary>Lets go of the attempt that lost. Still running, it ends in the request's scope now and may go on for
        /// up to <see cref="DrainableAttempt.Limit"/> (then it is cancelled); once it has ended, its response is
        /// disposed (its exception observed) and its cancellation disposed.</summary>
        /// <returns>Null, or the attempt when it could not be let go because its end is being recorded right now (it
        /// may still write the request): the caller waits for it, which takes no longer than that recording.</returns>
        public Task<HttpResponseMessage>? LetGo(Task<HttpResponseMessage> attempt, bool copy)
        {
            var source = copy ? _copy! : Primary;
            var running = Interlocked.CompareExchange(ref copy ? ref _copyState : ref _primaryState, LetGone, Running) == Running;
            if (running)
            {
                _scope.End();
                source.CancelAfter(DrainableAttempt.Limit);
            }

            if (attempt.IsCompleted)
            {
                Drop(attempt, source);
                return null;
            }

            attempt.ContinueWith(static (t, state) => Drop(t, (CancellationTokenSource)state!), source, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return running ? null : attempt;
        }

        /// <summary>Disposes the cancellation of the attempt whose outcome the caller gets (it has ended).</summary>
        public void Dispose(bool copy) => (copy ? _copy! : Primary).Dispose();

        private static CancellationTokenSource NewSource(CancellationToken caller) =>
            caller.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(caller) : new CancellationTokenSource();

        private static void Drop(Task<HttpResponseMessage> attempt, CancellationTokenSource source)
        {
            source.Dispose();
            if (attempt.IsCompletedSuccessfully)
            {
                attempt.Result.Dispose();
            }
            else if (attempt.IsFaulted)
            {
                _ = attempt.Exception;
            }
        }
    }
}
