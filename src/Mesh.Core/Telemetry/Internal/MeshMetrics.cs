using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;

namespace Mesh.Telemetry.Internal;

/// <summary>
/// The mesh's instruments (OpenTelemetry naming and units). Recording is guarded by <c>Enabled</c>, so with no
/// listener a request pays one branch per instrument; tag lists are stack-allocated <see cref="TagList"/>s.
/// Endpoint labels (<c>server.address</c>, <c>server.port</c>) are added only where the service allows them, which
/// bounds cardinality for large services. Health is exported as counts per state, never one series per endpoint.
/// </summary>
internal sealed class MeshMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _ejections;
    private readonly Counter<long> _returns;
    private readonly Counter<long> _discoveryUpdates;
    private readonly Counter<long> _discoveryFailures;
    private readonly Counter<long> _retryBudgetExhausted;
    private readonly Counter<long> _tlsFailures;
    private readonly Counter<long> _endpointsRefused;
    private readonly Counter<long> _hedges;
    private Func<IEnumerable<ServiceRuntime>>? _services;
    private Func<IEnumerable<Measurement<double>>>? _certificateExpiry;

    public MeshMetrics(IMeterFactory? factory)
    {
        if (factory is not null)
        {
            _meter = factory.Create(MeshTelemetry.Name);
        }
        else
        {
            _meter = new Meter(MeshTelemetry.Name);
            _ownsMeter = true;
        }

        _requests = _meter.CreateCounter<long>("mesh.client.requests", "{request}", "Attempts sent through the mesh, by service, outcome and (optionally) endpoint.");
        _duration = _meter.CreateHistogram<double>("mesh.client.request.duration", "s", "Duration of attempts sent through the mesh, until response headers (recorded when the outcome is known: for gRPC, at the status).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _meter.CreateObservableUpDownCounter("mesh.client.active_requests", ObserveInFlight, "{request}", "Attempts in flight, by service.");
        _meter.CreateObservableUpDownCounter("mesh.endpoints", ObserveEndpoints, "{endpoint}", "Endpoints by service and health state.");
        _meter.CreateObservableGauge("mesh.service.panic", ObservePanic, "{bool}", "1 when the service is in panic mode (too few healthy endpoints, balancing over all).");
        _ejections = _meter.CreateCounter<long>("mesh.endpoint.ejections", "{ejection}", "Endpoints ejected by outlier detection.");
        _returns = _meter.CreateCounter<long>("mesh.endpoint.returns", "{return}", "Endpoints returned to service after an ejection or failed health checks.");
        _discoveryUpdates = _meter.CreateCounter<long>("mesh.discovery.updates", "{update}", "Endpoint sets applied from discovery sources.");
        _discoveryFailures = _meter.CreateCounter<long>("mesh.discovery.failures", "{failure}", "Discovery refreshes that failed (the last known endpoints stay in use).");
        _endpointsRefused = _meter.CreateCounter<long>("mesh.discovery.endpoints.refused", "{endpoint}", "Endpoints from discovery sources left out of a service's set, by reason (plain_http: the service requires mutual TLS).");
        _hedges = _meter.CreateCounter<long>("mesh.client.hedges", "{hedge}", "Hedged attempts, by service and outcome: sent, or refused because the service's hedge budget was spent.");
        _retryBudgetExhausted = _meter.CreateCounter<long>("mesh.retry_budget.exhausted", "{retry}", "Retries refused because the retry budget was spent.");
        _tlsFailures = _meter.CreateCounter<long>("mesh.tls.handshake.failures", "{handshake}", "TLS handshakes refused by identity validation, by reason.");
        _meter.CreateObservableGauge("mesh.identity.certificate.time_to_expiry", ObserveExpiry, "s", "Seconds until the workload's certificate expires.");
    }

    /// <summary>Connects the observable instruments to the registry's services.</summary>
    public void Observe(Func<IEnumerable<ServiceRuntime>> services) => _services = services;

    /// <summary>Connects the certificate-expiry gauge to the identity source.</summary>
    public void ObserveCertificateExpiry(Func<IEnumerable<Measurement<double>>> expiry) => _certificateExpiry = expiry;

    /// <summary>Records one attempt: its outcome, its time to response headers and, for a gRPC call, the status the
    /// server sent (<c>rpc.grpc.status_code</c>; <paramref name="grpcStatus"/> is negative when there is none).</summary>
    public void RecordAttempt(ServiceRuntime service, EndpointState endpoint, RequestOutcome outcome, double seconds, int grpcStatus = Http.Internal.GrpcProtocol.NoStatus)
    {
        if (!_requests.Enabled && !_duration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { MeshTelemetry.Attributes.Service, service.Name },
            { MeshTelemetry.Attributes.Outcome, OutcomeName(outcome) },
        };
        if (grpcStatus >= 0)
        {
            tags.Add(MeshTelemetry.Attributes.GrpcStatusCode, Http.Internal.GrpcProtocol.Boxed(grpcStatus));
        }

        if (service.Settings.EndpointLabels)
        {
            tags.Add(MeshTelemetry.Attributes.ServerAddress, endpoint.Host);
            tags.Add(MeshTelemetry.Attributes.ServerPort, endpoint.Port);
        }

        _requests.Add(1, tags);
        _duration.Record(seconds, tags);
    }

    public void RecordEjection(string service, string reasonKind) =>
        _ejections.Add(1, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service), new KeyValuePair<string, object?>(MeshTelemetry.Attributes.ErrorType, reasonKind));

    public void RecordReturn(string service) => _returns.Add(1, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service));

    public void RecordDiscoveryUpdate(string service, string source) =>
        _discoveryUpdates.Add(1, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service), new KeyValuePair<string, object?>(MeshTelemetry.Attributes.DiscoverySource, source));

    public void RecordDiscoveryFailure(string service, string source) =>
        _discoveryFailures.Add(1, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service), new KeyValuePair<string, object?>(MeshTelemetry.Attributes.DiscoverySource, source));

    public void RecordEndpointRefused(string service, string source, string reason) =>
        _endpointsRefused.Add(1, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service),
            new KeyValuePair<string, object?>(MeshTelemetry.Attributes.DiscoverySource, source), new KeyValuePair<string, object?>(MeshTelemetry.Attributes.ErrorType, reason));

    public void RecordHedge(string service, bool sent) =>
        _hedges.Add(1, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service), new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Outcome, sent ? "sent" : "refused"));

    public void RecordRetryBudgetExhausted(string service) => _retryBudgetExhausted.Add(1, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service));

    public void RecordTlsFailure(string? service, string reason) =>
        _tlsFailures.Add(1, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service), new KeyValuePair<string, object?>(MeshTelemetry.Attributes.TlsFailureReason, reason));

    public static string OutcomeName(RequestOutcome outcome) => outcome switch
    {
        RequestOutcome.Success => "success",
        RequestOutcome.ConnectionFailure => "connection_failure",
        RequestOutcome.Timeout => "timeout",
        RequestOutcome.ServerError => "server_error",
        _ => "cancelled", // Cancellation, and Abandoned (a gRPC stream the caller left before its end)
    };

    public static string StateName(MeshEndpointHealth health) => health switch
    {
        MeshEndpointHealth.Healthy => "healthy",
        MeshEndpointHealth.SlowStart => "slow_start",
        MeshEndpointHealth.Probing => "probing",
        MeshEndpointHealth.Ejected => "ejected",
        _ => "unhealthy",
    };

    private IEnumerable<Measurement<long>> ObserveInFlight()
    {
        foreach (var service in _services?.Invoke() ?? [])
        {
            long inFlight = 0;
            foreach (var endpoint in service.Endpoints)
            {
                inFlight += endpoint.InFlight;
            }

            yield return new Measurement<long>(inFlight, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service.Name));
        }
    }

    private IEnumerable<Measurement<long>> ObserveEndpoints()
    {
        foreach (var service in _services?.Invoke() ?? [])
        {
            var counts = new long[5];
            var now = service.Now();
            foreach (var endpoint in service.Endpoints)
            {
                counts[(int)service.PublicHealth(endpoint, now)]++;
            }

            for (var state = 0; state < counts.Length; state++)
            {
                yield return new Measurement<long>(counts[state],
                    new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service.Name),
                    new KeyValuePair<string, object?>(MeshTelemetry.Attributes.EndpointState, StateName((MeshEndpointHealth)state)));
            }
        }
    }

    private IEnumerable<Measurement<int>> ObservePanic()
    {
        foreach (var service in _services?.Invoke() ?? [])
        {
            yield return new Measurement<int>(service.Snapshot.Panic ? 1 : 0, new KeyValuePair<string, object?>(MeshTelemetry.Attributes.Service, service.Name));
        }
    }

    private IEnumerable<Measurement<double>> ObserveExpiry() => _certificateExpiry?.Invoke() ?? [];

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
