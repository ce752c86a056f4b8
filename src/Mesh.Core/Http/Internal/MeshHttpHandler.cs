using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.LoadBalancing.Internal;
using Mesh.Resilience.Internal;
using Mesh.Services.Internal;

namespace Mesh.Http.Internal;

/// <summary>
/// The in-process proxy: resolves the request's host (the logical service) to an endpoint, rewrites the request URI
/// to it (scheme, host and port; path and query kept), sends, records the outcome for the balancer and outlier
/// detection, and restores the logical URI afterwards. The attempts of one logical request — an outer retry resending
/// the same message, hedged copies cloned by a hedging handler — share a <see cref="RequestScope"/>: each later attempt
/// avoids the endpoints the others used or are using, and is charged to the retry budget (one after another) or to
/// the hedge budget (while another attempt is in flight).
/// </summary>
internal sealed class MeshHttpHandler : DelegatingHandler
{
    [ThreadStatic]
    private static AttemptInfo? t_attempt;

    // Only while tracing is on: the attempt, flowing with the request's async context into the span's start (which
    // System.Net.Http may begin after an await, where the thread-static side channel no longer holds).
    private static readonly AsyncLocal<AttemptInfo?> s_tracedAttempt = new();

    private readonly MeshRegistry _registry;
    private readonly string? _serviceName;

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
        var uri = request.RequestUri;
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw new InvalidOperationException("A mesh request needs an absolute URI whose host is the service name, for example http://catalog/items; set the HttpClient's BaseAddress.");
        }

        var name = _serviceName ?? uri.IdnHost;
        if (!_registry.TryGetService(name, out var service))
        {
            if (_registry.PassThroughUnknownHosts)
            {
                return base.SendAsync(request, cancellationToken);
            }

            throw new MeshServiceNotFoundException(name, _registry.ServiceNames);
        }

        return SendCoreAsync(request, uri, service, RequestScope.Of(request), cancellationToken);
    }

    private async Task<HttpResponseMessage> SendCoreAsync(HttpRequestMessage request, Uri logical, ServiceRuntime service, RequestScope scope, CancellationToken cancellationToken)
    {
        if (scope.TakeCancelled() is { } cancelled)
        {
            // The request goes on with another attempt after one that ended by cancellation: the caller did not give up,
            // so that cancellation was an outer per-attempt timeout (for example the standard resilience handler's).
            service.OnOutcome(cancelled, RequestOutcome.Timeout, isProbe: false, "no response before the caller's attempt timeout (the request was resent)");
        }

        if (service.Snapshot.FirstSet is { } firstSet)
        {
            // Right after start-up: the service's discovery providers have not published yet. Wait for them (bounded).
            await service.WaitForFirstSetAsync(firstSet, cancellationToken).ConfigureAwait(false);
        }

        var settings = service.Settings;
        if (!SchemePreferences.TryParse(logical.Scheme, settings.HttpMeansHttpFirst, out var scheme))
        {
            throw new InvalidOperationException($"'{logical.GetLeftPart(UriPartial.Authority)}': the scheme '{logical.Scheme}' cannot address mesh service '{service.Name}'; allowed: {SchemePreferences.Allowed}.");
        }

        var env = service.Environment;
        var start = env.Now();
        var index = scope.Begin(out var concurrent);
        if (index == 0)
        {
            scope.Service = service;
        }

        // gRPC's own retries and hedges (a RetryPolicy or HedgingPolicy in the channel's service config) are new
        // messages, marked with grpc-previous-rpc-attempts: retries all the same (see GrpcRetries).
        var mayBeGrpc = GrpcProtocol.MayBeGrpc(request);
        var grpcRetry = index == 0 && mayBeGrpc && GrpcProtocol.IsRetryAttempt(request);
        EndpointState endpoint;
        bool isProbe;
        try
        {
            if (Charge(service, index, concurrent, grpcRetry, start) is { } refused)
            {
                scope.End();
                return grpcRetry ? GrpcProtocol.Refusal(request, refused.Message) : throw refused;
            }

            var hash = 0UL;
            var hasHash = settings.UsesHashing && TryGetHash(request, settings, out hash);
            var avoid = index > 0 ? scope.Used : grpcRetry ? GrpcRetries.EndpointsToAvoid(service) : null;
            endpoint = service.Pick(new PickContext(start, hash, hasHash, 0), avoid, out isProbe, scheme);
        }
        catch
        {
            scope.End();
            throw;
        }

        scope.Used.Add(endpoint);

        request.RequestUri = endpoint.Rewrite(logical);
        endpoint.OnRequestStart();
        CancellationTokenSource? deadline = null;
        var token = cancellationToken;
        if (settings.AttemptTimeout is { } timeout)
        {
            deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            token = deadline.Token;
        }

        var outcome = RequestOutcome.Success;
        string? failure = null;
        var grpcStatus = GrpcProtocol.NoStatus;
        GrpcResponseContent? grpcCall = null;
        long end = 0;
        try
        {
            Task<HttpResponseMessage> sending;
            var attempt = t_attempt ??= new AttemptInfo();
            var resend = index;
            attempt.Set(service, endpoint, resend, isProbe);
            if (Telemetry.Internal.MeshTracing.Enabled)
            {
                var traced = new AttemptInfo();
                traced.Set(service, endpoint, resend, isProbe);
                s_tracedAttempt.Value = traced;
            }

            try
            {
                sending = base.SendAsync(request, token);
            }
            finally
            {
                attempt.Clear();
                if (s_tracedAttempt.Value is not null)
                {
                    s_tracedAttempt.Value = null;
                }
            }

            var response = await sending.ConfigureAwait(false);
            end = env.Now();
            request.Options.Set(MeshRequestOptions.Endpoint, endpoint.Endpoint);
            if (mayBeGrpc && GrpcProtocol.Inspect(response, out grpcStatus) is var grpc && grpc != GrpcResponseKind.NotGrpc)
            {
                if (grpc == GrpcResponseKind.Body)
                {
                    // The status comes after the replies: the call stays in flight and its outcome is recorded when
                    // they end (or the caller leaves them), by the response content.
                    grpcCall = GrpcResponseContent.Attach(response, service, endpoint, isProbe, (end - start) / env.Frequency, Telemetry.Internal.MeshTracing.CurrentGrpcSpan());
                    return response;
                }

                outcome = GrpcProtocol.Classify(grpcStatus, settings.Options.OutlierDetection.GrpcStatusCodes);
                if (outcome != RequestOutcome.Success)
                {
                    failure = GrpcProtocol.Describe(grpcStatus, response.Headers);
                }

                return response;
            }

            var status = (int)response.StatusCode;
            if (status >= 500)
            {
                outcome = RequestOutcome.ServerError;
                failure = $"HTTP {status} {response.ReasonPhrase}";
            }

            return response;
        }
        catch (OperationCanceledException ex) when (deadline is not null && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            outcome = RequestOutcome.Timeout;
            failure = $"no response within {settings.AttemptTimeout}";
            throw new MeshAttemptTimeoutException(service.Name, endpoint.Key, settings.AttemptTimeout!.Value) { Source = ex.Source };
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested && ex.InnerException is TimeoutException)
        {
            // Neither the caller nor the mesh deadline: the transport's connect timeout. The endpoint is unreachable.
            outcome = RequestOutcome.ConnectionFailure;
            failure = "no connection within the connect timeout";
            throw new HttpRequestException(HttpRequestError.ConnectionError,
                $"Could not connect to {endpoint.Key} of mesh service '{service.Name}' within the connect timeout (Mesh:ConnectTimeout).", ex);
        }
        catch (OperationCanceledException)
        {
            // Either the caller gave up or an outer per-attempt timeout fired; only a resend of this message tells them
            // apart (see the start of SendCoreAsync), so the endpoint is not charged now.
            outcome = RequestOutcome.Cancellation;
            failure = "cancelled by the caller";
            throw;
        }
        catch (HttpRequestException ex) when (ex.InnerException is Mesh.Identity.SpiffeAuthenticationException spiffe)
        {
            outcome = RequestOutcome.ConnectionFailure;
            failure = spiffe.Message;
            env.Metrics.RecordTlsFailure(service.Name, spiffe.Reason.ToString());
            throw new HttpRequestException(HttpRequestError.SecureConnectionError,
                $"Mesh service '{service.Name}' endpoint {endpoint.Key} failed identity validation: {spiffe.Message}", spiffe);
        }
        catch (Exception ex)
        {
            outcome = RequestOutcome.ConnectionFailure;
            failure = Describe(ex);
            throw;
        }
        finally
        {
            request.RequestUri = logical;
            if (end == 0)
            {
                end = env.Now();
            }

            if (grpcCall is null)
            {
                endpoint.OnRequestEnd(start, end, settings.Picker.DecayTicks, RequestOutcomes.IsFailure(outcome), settings.Picker.DefaultRttTicks);
                service.OnOutcome(endpoint, outcome, isProbe, failure);
                env.Metrics.RecordAttempt(service, endpoint, outcome, (end - start) / env.Frequency, grpcStatus);
                if (mayBeGrpc && Telemetry.Internal.MeshTracing.CurrentGrpcSpan() is { } span)
                {
                    Telemetry.Internal.MeshTracing.EnrichGrpcSpan(span, service, outcome, grpcStatus);
                }
            }
            else
            {
                // Latency is the time to response headers, whatever follows; the rest waits for the end of the call.
                endpoint.OnResponse(start, end, settings.Picker.DecayTicks, failed: false);
            }

            if (outcome == RequestOutcome.Cancellation)
            {
                if (!isProbe)
                {
                    scope.Cancelled(endpoint);
                }
            }
            else
            {
                service.Latency.Record(end - start, end);
            }

            scope.End();
            deadline?.Dispose();
        }
    }

    /// <summary>Charges an attempt: the first of a request counts as a request; a later one is a hedge while another
    /// attempt of the request is in flight (hedge budget), otherwise a retry (retry budget), as is a retry or hedge of
    /// gRPC's own (<paramref name="grpcRetry"/>). Returns the refusal when the budget is spent.</summary>
    private static Exception? Charge(ServiceRuntime service, int index, bool concurrent, bool grpcRetry, long now)
    {
        var env = service.Environment;
        if (index == 0 && !grpcRetry)
        {
            service.Budget.OnRequest(now);
            service.HedgeBudget.OnRequest(now);
            return null;
        }

        if (concurrent)
        {
            if (!service.HedgeBudget.TryRetry(now))
            {
                env.Metrics.RecordHedge(service.Name, sent: false);
                return new MeshHedgeBudgetExceededException(service.Name, service.Settings.Hedging.BudgetRatio);
            }

            env.Metrics.RecordHedge(service.Name, sent: true);
            return null;
        }

        var budget = service.Budget;
        if (!budget.TryRetry(now))
        {
            if (budget.RefusalsToLog(now) is var refused and > 0)
            {
                HttpLog.RetryBudgetExhausted(env.HttpLogger, service.Name, refused);
            }

            env.Metrics.RecordRetryBudgetExhausted(service.Name);
            return new MeshRetryBudgetExceededException(service.Name, budget.Ratio);
        }

        return null;
    }

    private static bool TryGetHash(HttpRequestMessage request, ServiceSettings settings, out ulong hash)
    {
        if (request.Options.TryGetValue(MeshRequestOptions.HashKey, out var key) && key is not null)
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
