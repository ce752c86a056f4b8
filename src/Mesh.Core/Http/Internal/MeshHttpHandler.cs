using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.LoadBalancing.Internal;
using Mesh.Resilience.Internal;
using Mesh.Services.Internal;

namespace Mesh.Http.Internal;

/// <summary>
/// The in-process proxy: resolves the request's host (the logical service) to an endpoint, rewrites the request URI
/// to it (scheme, host and port; path and query kept), sends, records the outcome for the balancer and outlier
/// detection, and restores the logical URI afterwards. For a service with <c>Hedging:Enabled</c> it also hedges the
/// requests that may be sent twice (<c>MeshHttpHandler.Hedging.cs</c>). The attempts of one logical request — an outer retry resending
/// the same message, hedged copies cloned by a hedging handler — share a <see cref="RequestScope"/>: each later attempt
/// avoids the endpoints the others used or are using, and is charged to the retry budget (one after another) or to
/// the hedge budget (while another attempt is in flight).
/// </summary>
internal sealed partial class MeshHttpHandler : DelegatingHandler
{
    [ThreadStatic]
    private static AttemptInfo? t_attempt;

    // Only while tracing is on: the attempt, flowing with the request's async context into the span's start (which
    // System.Net.Http may begin after an await, where the thread-static side channel no longer holds).
    private static readonly AsyncLocal<AttemptInfo?> s_tracedAttempt = new();

    private readonly MeshRegistry _registry;
    private readonly string? _serviceName;
    private int _directTransport; // 0: not known yet, 1: the inner handler is the mesh transport, 2: something else

    public MeshHttpHandler(MeshRegistry registry, string? serviceName)
    {
        _registry = registry;
        _serviceName = serviceName;
    }

    /// <summary>The attempt being handed to the transport on this thread, if any: a zero-allocation side channel (one
    /// reused object per thread) to <see cref="MeshTransportHandler"/> and to span enrichment, valid only while the
    /// mesh handler's call into the inner handlers runs synchronously.</summary>
    internal static AttemptInfo? CurrentAttempt => t_attempt is { Active: true } attempt ? attempt : null;

    /// <summary>The attempt whose HttpClient span is starting, for span enrichment.</summary>
    internal static AttemptInfo? TracedAttempt => s_tracedAttempt.Value ?? CurrentAttempt;

    /// <summary>The endpoint of <see cref="CurrentAttempt"/>.</summary>
    internal static EndpointState? CurrentEndpoint => CurrentAttempt?.Endpoint;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method is AnsweredMethod answered)
        {
            // Sent anew (a retry) after an endpoint answered: the transport gets the caller's own method again.
            request.Method = answered.Original;
        }

        var uri = request.RequestUri;
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw new InvalidOperationException("A mesh request needs an absolute URI whose host is the service name, for example http://catalog/items; set the HttpClient's BaseAddress.");
        }

        if (!TryFindService(uri, out var service))
        {
            if (_registry.PassThroughUnknownHosts)
            {
                return base.SendAsync(request, cancellationToken);
            }

            throw new MeshServiceNotFoundException(_serviceName ?? uri.IdnHost, _registry.ServiceNames);
        }

        // The scope, when the request has one: made by the client's scope handler (before any resilience handler could
        // resend or clone the request) or by an earlier attempt of this message that did not succeed. A request
        // without one is on its first attempt and allocates none (see RecordForResend).
        var scope = RequestOptions.Existing(request) is { } options && options.TryGetValue(RequestScope.Key, out var existing) ? existing : null;
        if (service.Snapshot.FirstSet is { } firstSet)
        {
            // Right after start-up: the service's discovery providers have not published yet. Wait for them (bounded).
            return WaitThenSendAsync(request, uri, service, scope, firstSet, cancellationToken);
        }

        return SendOrHedge(request, uri, service, scope, cancellationToken);
    }

    /// <summary>The service a request goes to: the pinned one, or the one its host names — looked up as the URI's
    /// original string writes it when that is canonical (no parse, see <see cref="CanonicalHost"/>), else by
    /// <see cref="Uri.IdnHost"/>.</summary>
    private bool TryFindService(Uri uri, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ServiceRuntime? service)
    {
        if (_serviceName is not null)
        {
            return _registry.TryGetService(_serviceName, out service);
        }

        return _registry.TryGetService(CanonicalHost(uri), out service) || _registry.TryGetService(uri.IdnHost, out service);
    }

    /// <summary>The host of an absolute URI as its original string has it, when that is already its canonical form
    /// (<see cref="Uri.IdnHost"/>: lower-case ASCII letters, digits, dots and hyphens, no user info, no port is part of
    /// it) — read without parsing the URI, which costs a <c>UriInfo</c> and a string on every new URI; otherwise empty
    /// (the caller falls back to <see cref="Uri.IdnHost"/>).</summary>
    internal static ReadOnlySpan<char> CanonicalHost(Uri uri)
    {
        var text = uri.OriginalString.AsSpan();
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0)
        {
            return [];
        }

        var rest = text[(scheme + 3)..];
        var end = rest.IndexOfAny(HostEnd);
        var host = end < 0 ? rest : rest[..end];
        return host.IsEmpty || host.ContainsAnyExcept(CanonicalHostChars) ? [] : host;
    }

    private static readonly System.Buffers.SearchValues<char> HostEnd = System.Buffers.SearchValues.Create(":/?#");

    private static readonly System.Buffers.SearchValues<char> CanonicalHostChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789.-");

    private async Task<HttpResponseMessage> WaitThenSendAsync(HttpRequestMessage request, Uri logical, ServiceRuntime service, RequestScope? scope, Task firstSet, CancellationToken cancellationToken)
    {
        await service.WaitForFirstSetAsync(firstSet, cancellationToken).ConfigureAwait(false);
        return await SendOrHedge(request, logical, service, scope, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One attempt, up to handing the request to the transport: charge it, pick the endpoint, rewrite the URI,
    /// send; <see cref="Completion"/> records the outcome when the transport's task ends (its task, 72 bytes, is the one
    /// allocation of an attempt on a repeated path). <paramref name="hedge"/>: the request is hedged by the mesh itself
    /// (<see cref="HedgeAsync"/>), and <paramref name="copy"/> says whether this attempt is its copy (charged to the
    /// hedge budget already).</summary>
    private Task<HttpResponseMessage> Send(HttpRequestMessage request, Uri logical, ServiceRuntime service, RequestScope? scope, CancellationToken cancellationToken,
        MeshHedge? hedge = null, bool copy = false)
    {
        int index;
        bool concurrent;
        if (scope is null)
        {
            index = 0;
            concurrent = false;
        }
        else
        {
            if (scope.TakeCancelled() is { } cancelled)
            {
                // The request goes on with another attempt after one that ended by cancellation: the caller did not give
                // up, so that cancellation was an outer per-attempt timeout (for example the standard resilience handler's).
                service.OnOutcome(cancelled, RequestOutcome.Timeout, isProbe: false, "no response before the caller's attempt timeout (the request was resent)");
            }

            index = scope.Begin(out concurrent);
            if (index == 0)
            {
                scope.Service = service;
            }
        }

        var settings = service.Settings;
        if (!SchemePreferences.TryParse(logical.Scheme, settings.HttpMeansHttpFirst, out var scheme))
        {
            EndUnsent(scope, hedge, copy);
            return Task.FromException<HttpResponseMessage>(new InvalidOperationException($"'{logical.GetLeftPart(UriPartial.Authority)}': the scheme '{logical.Scheme}' cannot address mesh service '{service.Name}'; allowed: {SchemePreferences.Allowed}."));
        }

        var env = service.Environment;
        var start = env.Now();

        // gRPC's own retries and hedges (a RetryPolicy or HedgingPolicy in the channel's service config) are new
        // messages, marked with grpc-previous-rpc-attempts: retries all the same (see GrpcRetries).
        var mayBeGrpc = GrpcProtocol.MayBeGrpc(request);
        var grpcRetry = index == 0 && mayBeGrpc && GrpcProtocol.IsRetryAttempt(request);
        EndpointState endpoint;
        bool isProbe;
        try
        {
            if (!copy && !TryCharge(service, index, concurrent, grpcRetry, start, out var refused))
            {
                EndUnsent(scope, hedge, copy);
                if (refused is null)
                {
                    // A hedge the hedge budget refused (only a request with a scope has concurrent attempts).
                    return WaitOutRefusedHedgeAsync(request, logical, service, scope!, cancellationToken);
                }

                return grpcRetry ? Task.FromResult(GrpcProtocol.Refusal(request, refused.Message)) : Task.FromException<HttpResponseMessage>(refused);
            }

            var hash = 0UL;
            var hasHash = settings.UsesHashing && TryGetHash(request, settings, out hash);
            var avoid = index > 0 ? scope!.Used : grpcRetry ? GrpcRetries.EndpointsToAvoid(service) : null;
            endpoint = service.Pick(new PickContext(start, hash, hasHash, 0), avoid, out isProbe, scheme);
        }
        catch (Exception ex)
        {
            // No endpoint to send to (none healthy, none known): a faulted task, as from any attempt.
            EndUnsent(scope, hedge, copy);
            return Task.FromException<HttpResponseMessage>(ex);
        }

        scope?.Used.Add(endpoint);
        if (!SendsLogicalUri(endpoint, logical))
        {
            Rewrite(request, logical, endpoint);
        }

        endpoint.OnRequestStart();
        CancellationTokenSource? deadline = null;
        var token = cancellationToken;
        DrainableAttempt? drainable = null;
        if (concurrent && !copy)
        {
            scope!.Client?.Set(); // a client that hedges without saying so (a custom pipeline): its next requests drain
        }

        if (scope is { ClientHedges: true } && request.Content is null && !isProbe && cancellationToken.CanBeCanceled)
        {
            // A client that hedges: the loser of a hedge may finish and keep its connection (see DrainableAttempt).
            drainable = new DrainableAttempt(scope, cancellationToken);
            deadline = drainable.Transport;
            token = deadline.Token;
            if (settings.AttemptTimeout is { } drainTimeout)
            {
                deadline.CancelAfter(drainTimeout);
            }
        }
        else if (settings.AttemptTimeout is { } timeout)
        {
            deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            token = deadline.Token;
        }

        Task<HttpResponseMessage> sending;
        var attempt = t_attempt ??= new AttemptInfo();
        attempt.Set(service, endpoint, index, isProbe);
        if (Telemetry.Internal.MeshTracing.Enabled)
        {
            var traced = new AttemptInfo();
            traced.Set(service, endpoint, index, isProbe);
            s_tracedAttempt.Value = traced;
        }

        try
        {
            sending = base.SendAsync(request, token);
        }
        catch (Exception ex)
        {
            // A handler below that throws instead of returning a faulted task: the same bookkeeping as for any failure.
            sending = Task.FromException<HttpResponseMessage>(ex);
        }
        finally
        {
            attempt.Clear();
            if (s_tracedAttempt.Value is not null)
            {
                s_tracedAttempt.Value = null;
            }
        }

        return Completion.Start(sending, new Attempt(request, logical, service, endpoint, scope, deadline, start, isProbe, mayBeGrpc, drainable, hedge, copy), cancellationToken);
    }

    /// <summary>Ends an attempt that was not sent (no endpoint, a refused budget, a bad scheme) in the request's scope,
    /// and for a request the mesh hedges, marks it finished so that letting it go does not end it a second time.</summary>
    private static void EndUnsent(RequestScope? scope, MeshHedge? hedge, bool copy)
    {
        hedge?.TryFinish(copy);
        scope?.End();
    }

    /// <summary>Whether a request to <paramref name="endpoint"/> goes to the transport with its logical URI: an
    /// <c>http://</c> URI to a plain-http endpoint, reached through the mesh transport's pool of that endpoint
    /// (<see cref="EndpointPool"/>) with nothing between this handler and the transport that could read the URI (only
    /// IHttpClientFactory's own logging). The
    /// HttpClient span still names the endpoint (<see cref="Telemetry.Internal.MeshTracing"/> sets its
    /// <c>server.address</c>, <c>server.port</c> and <c>url.full</c>). Otherwise — an https endpoint, whose TLS name and
    /// pool are the endpoint's — the URI is rewritten to the endpoint.</summary>
    private bool SendsLogicalUri(EndpointState endpoint, Uri logical)
    {
        var direct = _directTransport;
        if (direct == 0)
        {
            direct = _directTransport = ReachesTransportDirectly(InnerHandler) ? 1 : 2;
        }

        return direct == 1 && string.Equals(endpoint.Scheme, Uri.UriSchemeHttp, StringComparison.Ordinal)
            && string.Equals(logical.Scheme, Uri.UriSchemeHttp, StringComparison.Ordinal); // not https+http://, not https:// to an http endpoint
    }

    /// <summary>Whether the handlers below this one are only the mesh transport, possibly behind IHttpClientFactory's
    /// logging handlers.</summary>
    internal static bool ReachesTransportDirectly(HttpMessageHandler? handler)
    {
        for (var i = 0; i < 16 && handler is not null; i++)
        {
            switch (handler)
            {
                case MeshTransportHandler:
                    return true;
                case DelegatingHandler delegating when delegating.GetType().Namespace == "Microsoft.Extensions.Http.Logging":
                    handler = delegating.InnerHandler;
                    break;
                default:
                    return false;
            }
        }

        return false;
    }

    /// <summary>Rewrites the request URI to the endpoint (path and query kept). Over plain http the request keeps the
    /// logical authority as its <c>Host</c> (unless it set one), as when the URI is not rewritten.</summary>
    private static void Rewrite(HttpRequestMessage request, Uri logical, EndpointState endpoint)
    {
        request.RequestUri = endpoint.Rewrite(logical);
        if (string.Equals(endpoint.Scheme, Uri.UriSchemeHttp, StringComparison.Ordinal) && request.Headers.Host is null)
        {
            request.Headers.Host = logical.Authority;
        }
    }

    /// <summary>A hedge the hedge budget refused is not sent, and does not fail either (a failed hedge would count against
    /// the hedging handler's circuit breaker, which then refuses every request): it waits for the attempts in flight.
    /// If one of them answers, the hedging handler takes that answer and cancels this wait (only the request's
    /// cancellation ends it then); if they all fail, this attempt goes on as a retry, charged to the retry budget like
    /// any retry.</summary>
    private async Task<HttpResponseMessage> WaitOutRefusedHedgeAsync(HttpRequestMessage request, Uri logical, ServiceRuntime service, RequestScope scope, CancellationToken cancellationToken)
    {
        await scope.WhenIdleAsync(cancellationToken).ConfigureAwait(false);
        return await Send(request, logical, service, scope, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records the outcome of an attempt whose transport task has ended (balancer, outlier detection, metrics,
    /// scope) and returns its response or throws what the caller gets. Runs in the request's execution context (see
    /// <see cref="Completion"/>).</summary>
    private static HttpResponseMessage Complete(Task<HttpResponseMessage> sending, in Attempt a, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = sending.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            var (outcome, failure, thrown) = Classify(ex, a, cancellationToken);
            Finish(a, outcome, failure, GrpcProtocol.NoStatus, response: null);
            if (thrown is null)
            {
                throw;
            }

            throw thrown;
        }

        var service = a.Service;
        var endpoint = a.Endpoint;
        var end = service.Environment.Now();
        try
        {
            var grpcStatus = GrpcProtocol.NoStatus;
            if (a.MayBeGrpc && GrpcProtocol.Inspect(response, out grpcStatus) is var grpc && grpc != GrpcResponseKind.NotGrpc)
            {
                if (grpc == GrpcResponseKind.Body)
                {
                    // The status comes after the replies: the call stays in flight and its outcome is recorded when
                    // they end (or the caller leaves them), by the response content. Latency is the time to response
                    // headers, whatever follows.
                    var env = service.Environment;
                    GrpcResponseContent.Attach(response, service, endpoint, a.IsProbe, (end - a.Start) / env.Frequency, Telemetry.Internal.MeshTracing.CurrentGrpcSpan());
                    endpoint.OnResponse(a.Start, end, service.Settings.Picker.DecayTicks, failed: false);
                    service.Latency.Record(end - a.Start, end);
                    a.Scope?.End(failed: false);
                    a.Deadline?.Dispose();
                    System.Diagnostics.Debug.Assert(a.Drainable is null && a.Hedge is null, "Only requests without content are drained or hedged: a gRPC call's attempt is never detached.");
                    Answer(a);
                    return response;
                }

                var outcome = GrpcProtocol.Classify(grpcStatus, service.Settings.Options.OutlierDetection.GrpcStatusCodes);
                Finish(a, outcome, outcome == RequestOutcome.Success ? null : GrpcProtocol.Describe(grpcStatus, response.Headers), grpcStatus, response, end);
                return response;
            }

            var status = (int)response.StatusCode;
            Finish(a, status >= 500 ? RequestOutcome.ServerError : RequestOutcome.Success, status >= 500 ? $"HTTP {status} {response.ReasonPhrase}" : null, grpcStatus, response, end);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>What a failed attempt was, and the exception to throw instead of the original (null: rethrow it).</summary>
    private static (RequestOutcome Outcome, string Failure, Exception? Thrown) Classify(Exception ex, in Attempt a, CancellationToken cancellationToken)
    {
        var service = a.Service;
        var endpoint = a.Endpoint;
        if (ex is OperationCanceledException)
        {
            if (a.Deadline is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested)
            {
                var timeout = service.Settings.AttemptTimeout ?? TimeSpan.Zero;
                return (RequestOutcome.Timeout, $"no response within {timeout}", new MeshAttemptTimeoutException(service.Name, endpoint.Key, timeout) { Source = ex.Source });
            }

            if (!cancellationToken.IsCancellationRequested && ex.InnerException is TimeoutException)
            {
                // Neither the caller nor the mesh deadline: the transport's connect timeout. The endpoint is unreachable.
                return (RequestOutcome.ConnectionFailure, "no connection within the connect timeout", new HttpRequestException(HttpRequestError.ConnectionError,
                    $"Could not connect to {endpoint.Key} of mesh service '{service.Name}' within the connect timeout (Mesh:ConnectTimeout).", ex));
            }

            // Either the caller gave up or an outer per-attempt timeout fired; only a resend of this message tells them
            // apart (see the start of Send), so the endpoint is not charged now.
            return (RequestOutcome.Cancellation, "cancelled by the caller", null);
        }

        if (ex is HttpRequestException { InnerException: Mesh.Identity.SpiffeAuthenticationException spiffe })
        {
            service.Environment.Metrics.RecordTlsFailure(service.Name, spiffe.Reason.ToString());
            return (RequestOutcome.ConnectionFailure, spiffe.Message, new HttpRequestException(HttpRequestError.SecureConnectionError,
                $"Mesh service '{service.Name}' endpoint {endpoint.Key} failed identity validation: {spiffe.Message}", spiffe));
        }

        if (ex is HttpRequestException { StatusCode: null, InnerException: System.Net.Sockets.SocketException socket } refused && !ex.Message.Contains(endpoint.Host, StringComparison.Ordinal))
        {
            // Sent with its logical URI, the transport names the service's authority ("Connection refused (catalog:80)"):
            // the caller is told the endpoint, as when the request was rewritten to it.
            var named = new HttpRequestException(refused.HttpRequestError, $"{socket.Message} ({endpoint.Prefix[(endpoint.Scheme.Length + 3)..]})", socket);
            return (RequestOutcome.ConnectionFailure, Describe(named), named);
        }

        return (RequestOutcome.ConnectionFailure, Describe(ex), null);
    }

    /// <summary>Records an attempt that ended (with a response or an exception): restores the logical URI, feeds the
    /// balancer, outlier detection, metrics and latency, and ends the attempt in the request's scope.</summary>
    private static void Finish(in Attempt a, RequestOutcome outcome, string? failure, int grpcStatus, HttpResponseMessage? response, long end = 0)
    {
        var service = a.Service;
        var endpoint = a.Endpoint;
        var env = service.Environment;
        // A hedge's loser the caller left (a hedging handler's, or the mesh's own): the request is not ours anymore.
        var detached = (a.Drainable is { } drainable && !drainable.TryFinish()) || (a.Hedge is { } hedge && !hedge.TryFinish(a.IsCopy));
        if (!detached)
        {
            if (response is null)
            {
                a.Request.RequestUri = a.Logical;
            }
            else
            {
                Answer(a);
            }
        }

        if (end == 0)
        {
            end = env.Now();
        }

        var settings = service.Settings;
        endpoint.OnRequestEnd(a.Start, end, settings.Picker.DecayTicks, RequestOutcomes.IsFailure(outcome), settings.Picker.DefaultRttTicks,
            a.IsProbe ? 0 : service.Latency.TailThreshold(end), cancelled: outcome == RequestOutcome.Cancellation, settings.Picker.JitterTicks);
        service.OnOutcome(endpoint, outcome, a.IsProbe, failure);
        env.Metrics.RecordAttempt(service, endpoint, outcome, (end - a.Start) / env.Frequency, grpcStatus);
        if (a.MayBeGrpc && Telemetry.Internal.MeshTracing.CurrentGrpcSpan() is { } span)
        {
            Telemetry.Internal.MeshTracing.EnrichGrpcSpan(span, service, outcome, grpcStatus);
        }

        // Cancelled attempts count too, with the time they had run: most are the losers of a hedge, the slow answers
        // hedging is for. Left out, the histogram saw only the answers that won, its percentile fell inside the healthy
        // spread, and the hedging delay taken from it spent the hedge budget on healthy requests. (Their elapsed time
        // is a lower bound of their latency; a percentile needs only how many attempts lie above it.)
        service.Latency.Record(end - a.Start, end);

        var scope = detached ? null : a.Scope; // a detached attempt ended in its scope when the caller left it
        if (!detached && scope is null && (outcome != RequestOutcome.Success || response is null || (int)response.StatusCode >= 400))
        {
            // Only now may something resend this message (a retry after an error status, an exception or a timeout):
            // give it the scope the next attempt needs, as if the attempt had had it from the start.
            scope = RequestScope.Of(a.Request);
            scope.Begin(out _);
            scope.Used.Add(endpoint);
        }

        if (scope is not null)
        {
            if (outcome == RequestOutcome.Cancellation && !a.IsProbe)
            {
                scope.Cancelled(endpoint);
            }

            scope.End(failed: outcome != RequestOutcome.Success || response is null || (int)response.StatusCode >= 500);
        }

        a.Deadline?.Dispose();
    }

    /// <summary>Puts back what the caller sent on a request an endpoint answered: its logical URI (when the attempt
    /// rewrote it to the endpoint), and its method as an <see cref="AnsweredMethod"/> carrying that endpoint for
    /// <c>GetMeshEndpoint()</c> (no allocation: the endpoint keeps one per method instance). The endpoint also goes to
    /// <see cref="MeshRequestOptions.Endpoint"/> when the request has options already (so the key stays filled where
    /// options are in use, at no cost).</summary>
    private static void Answer(in Attempt a)
    {
        var request = a.Request;
        var endpoint = a.Endpoint;
        if (!ReferenceEquals(request.RequestUri, a.Logical))
        {
            request.RequestUri = a.Logical;
        }

        request.Method = endpoint.Answered(request.Method);
        RequestOptions.Existing(request)?.Set(MeshRequestOptions.Endpoint, endpoint.Endpoint);
    }

    /// <summary>Charges an attempt: the first of a request counts as a request; a later one is a hedge while another
    /// attempt of the request is in flight (hedge budget), otherwise a retry (retry budget), as is a retry or hedge of
    /// gRPC's own (<paramref name="grpcRetry"/>). False when the budget is spent: <paramref name="retryRefusal"/> is
    /// the exception for a refused retry, null for a refused hedge (which waits instead of failing).</summary>
    private static bool TryCharge(ServiceRuntime service, int index, bool concurrent, bool grpcRetry, long now, out Exception? retryRefusal)
    {
        retryRefusal = null;
        var env = service.Environment;
        if (index == 0 && !grpcRetry)
        {
            service.Budget.OnRequest(now);
            service.HedgeBudget.OnRequest(now);
            return true;
        }

        if (concurrent)
        {
            if (!service.HedgeBudget.TryRetry(now))
            {
                env.Metrics.RecordHedge(service.Name, sent: false);
                return false;
            }

            env.Metrics.RecordHedge(service.Name, sent: true);
            return true;
        }

        var budget = service.Budget;
        if (!budget.TryRetry(now))
        {
            if (budget.RefusalsToLog(now) is var refused and > 0)
            {
                HttpLog.RetryBudgetExhausted(env.HttpLogger, service.Name, refused);
            }

            env.Metrics.RecordRetryBudgetExhausted(service.Name);
            retryRefusal = new MeshRetryBudgetExceededException(service.Name, budget.Ratio);
            return false;
        }

        return true;
    }

    private static bool TryGetHash(HttpRequestMessage request, ServiceSettings settings, out ulong hash)
    {
        if (RequestOptions.Existing(request) is { } options && options.TryGetValue(MeshRequestOptions.HashKey, out var key) && key is not null)
        {
            hash = MaglevPicker.HashKey(key);
            return true;
        }

        if (settings.HashHeader is { } header && request.Headers.NonValidated.TryGetValues(header, out var values))
        {
            foreach (var value in values)
            {
                hash = MaglevPicker.HashKey(value);
                return true;
            }
        }

        hash = 0;
        return false;
    }

    private static string Describe(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null && inner is HttpRequestException)
        {
            inner = inner.InnerException;
        }

        return ReferenceEquals(inner, ex) ? ex.Message : $"{ex.Message} ({inner.Message})";
    }

    /// <summary>What the end of an attempt needs to record it.</summary>
    private readonly record struct Attempt(HttpRequestMessage Request, Uri Logical, ServiceRuntime Service, EndpointState Endpoint, RequestScope? Scope,
        CancellationTokenSource? Deadline, long Start, bool IsProbe, bool MayBeGrpc, DrainableAttempt? Drainable = null, MeshHedge? Hedge = null, bool IsCopy = false);

    /// <summary>The attempt in progress on a thread (see <see cref="CurrentAttempt"/>).</summary>
    internal sealed class AttemptInfo
    {
        public bool Active { get; private set; }

        public ServiceRuntime Service { get; private set; } = null!;

        public EndpointState Endpoint { get; private set; } = null!;

        public int Retry { get; private set; }

        public bool IsProbe { get; private set; }

        public void Set(ServiceRuntime service, EndpointState endpoint, int retry, bool isProbe)
        {
            Service = service;
            Endpoint = endpoint;
            Retry = retry;
            IsProbe = isProbe;
            Active = true;
        }

        public void Clear()
        {
            Active = false;
            Service = null!;
            Endpoint = null!;
        }
    }
}
