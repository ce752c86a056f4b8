using System.Diagnostics;
using Mesh.Http.Internal;

namespace Mesh.Telemetry.Internal;

/// <summary>
/// Enriches the HTTP client span that System.Net.Http starts for each attempt with the mesh's decision: service,
/// balancer, chosen endpoint (as <c>server.address</c>/<c>server.port</c>, already set by HttpClient from the rewritten
/// URI), retry ordinal and probe flag. The span starts synchronously inside the mesh handler's call to the transport,
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
            };
            ActivitySource.AddActivityListener(s_listener);
        }
    }

    private static void Enrich(Activity activity)
    {
        if (!activity.IsAllDataRequested || MeshHttpHandler.TracedAttempt is not { } attempt)
        {
            return;
        }

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
