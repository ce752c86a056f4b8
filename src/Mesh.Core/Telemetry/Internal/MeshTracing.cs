using System.Diagnostics;
using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Http.Internal;
using Mesh.Services.Internal;

namespace Mesh.Telemetry.Internal;

/// <summary>
/// Enriches the HTTP client span that System.Net.Http starts for each attempt with the mesh's decision: service,
/// balancer, chosen endpoint (as <c>server.address</c>/<c>server.port</c> and in <c>url.full</c>: HttpClient set them
/// from the request's logical URI, which a plain-http request keeps on the way to the endpoint), retry ordinal and
/// probe flag. The span starts synchronously inside the mesh handler's call to the transport,
/// where the attempt is available on the thread; the listener does not sample (it only adds tags to spans other
/// listeners, such as OpenTelemetry, chose to record).
/// </summary>
internal static class MeshTracing
{
    private static readonly Lock s_gate = new();
    private static ActivityListener? s_listener;

    /// <summary>Whether span enrichment is on (AddMeshInstrumentation was called on a tracer provider).</summary>
    public static bool Enabled => Volatile.Read(ref s_listener) is not null;

    /// <summary>Starts enriching HttpClient spans (once per process).</summary>
    public static void EnableHttpSpanEnrichment()
    {
        lock (s_gate)
        {
            if (s_listener is not null)
            {
                return;
            }

            s_listener = new ActivityListener
            {
                ShouldListenTo = static source => source.Name == "System.Net.Http",
                ActivityStarted = static activity => Enrich(activity),
                ActivityStopped = static activity => NameEndpoint(activity),
            };
            ActivitySource.AddActivityListener(s_listener);
        }
    }

    /// <summary>The ActivitySource of grpc-dotnet's client calls (one <c>Grpc.Net.Client.GrpcOut</c> span per attempt).</summary>
    public const string GrpcSourceName = "Grpc.Net.Client";

    /// <summary>The gRPC client span of the attempt running in this async context, when enrichment is on and a listener
    /// records it: grpc-dotnet starts one per attempt (retries and hedges included) around the HTTP call, so inside the
    /// mesh handler it is <see cref="Activity.Current"/>.</summary>
    public static Activity? CurrentGrpcSpan() =>
        Enabled && Activity.Current is { IsAllDataRequested: true } span && span.Source.Name == GrpcSourceName ? span : null;

    /// <summary>Adds the mesh's view of a gRPC attempt to its gRPC client span, when the outcome is known (the span ends
    /// after that, when grpc-dotnet has read the status): service, balancer, outcome and the status code.</summary>
    public static void EnrichGrpcSpan(Activity span, ServiceRuntime service, RequestOutcome outcome, int grpcStatus)
    {
        span.SetTag(MeshTelemetry.Attributes.Service, service.Name);
        span.SetTag(MeshTelemetry.Attributes.LoadBalancer, service.Settings.BalancerName);
        span.SetTag(MeshTelemetry.Attributes.Outcome, MeshMetrics.OutcomeName(outcome));
        if (grpcStatus >= 0)
        {
            span.SetTag(MeshTelemetry.Attributes.GrpcStatusCode, GrpcProtocol.Boxed(grpcStatus));
        }
    }

    private const string ServerAddress = "server.address";
    private const string ServerPort = "server.port";
    private const string UrlFull = "url.full";

    /// <summary><paramref name="url"/> (the span's <c>url.full</c>, as System.Net.Http wrote it: scheme, authority, then
    /// the path and the redacted query) with <paramref name="prefix"/> (the endpoint's <c>scheme://host:port</c>) for its
    /// scheme and authority; null when it has no authority.</summary>
    internal static string? EndpointUrl(string url, string prefix)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0)
        {
            return null;
        }

        var rest = url.AsSpan(scheme + 3);
        var end = rest.IndexOfAny('/', '?', '#');
        return end < 0 ? prefix : string.Concat(prefix.AsSpan(), rest[end..]);
    }

    private const string EndpointProperty = "mesh.endpoint";

    /// <summary>Makes a stopping HttpClient span of a mesh attempt describe the endpoint the attempt went to
    /// (<c>server.address</c>, <c>server.port</c>, <c>url.full</c>), where System.Net.Http took them from the request's
    /// logical URI. Runs before the exporters' processors when the mesh's listener was added first (it is added when
    /// <c>AddMeshInstrumentation()</c> is called, before the tracer provider is built).</summary>
    private static void NameEndpoint(Activity activity)
    {
        if (activity.GetCustomProperty(EndpointProperty) is not EndpointState endpoint
            || activity.GetTagItem(ServerAddress) is not string address || string.Equals(address, endpoint.Host, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        activity.SetTag(ServerAddress, endpoint.Host);
        activity.SetTag(ServerPort, endpoint.Port);
        if (activity.GetTagItem(UrlFull) is string url && EndpointUrl(url, endpoint.Prefix) is { } rewritten)
        {
            activity.SetTag(UrlFull, rewritten);
        }
    }

    private static void Enrich(Activity activity)
    {
        if (!activity.IsAllDataRequested || MeshHttpHandler.TracedAttempt is not { } attempt)
        {
            return;
        }

        // A plain-http request keeps its logical URI on the way to the endpoint (see EndpointPool): System.Net.Http tags
        // the span with the service's authority (after this callback); the endpoint replaces it when the span stops.
        activity.SetCustomProperty(EndpointProperty, attempt.Endpoint);
        activity.SetTag(MeshTelemetry.Attributes.Service, attempt.Service.Name);
        activity.SetTag(MeshTelemetry.Attributes.LoadBalancer, attempt.Service.Settings.BalancerName);
        if (attempt.Retry > 0)
        {
            activity.SetTag(MeshTelemetry.Attributes.ResendCount, attempt.Retry);
        }

        if (attempt.IsProbe)
        {
            activity.SetTag(MeshTelemetry.Attributes.Probe, true);
        }
    }
}
