using System.Text.Json;

namespace Mesh.Diagnostics.Internal;

/// <summary>
/// Writes the diagnostics document (docs/diagnostics.md describes every field; <c>DiagnosticsJsonContractTests</c> pins
/// them). Written by hand with <see cref="Utf8JsonWriter"/>: field names cannot drift with a rename in C#, enums are their
/// names, no reflection (trimming- and AOT-safe), and nothing is locked while it writes.
/// </summary>
internal static class DiagnosticsJsonWriter
{
    /// <summary>The version of the document's shape; raised only for a change that breaks readers.</summary>
    public const int SchemaVersion = 1;

    public static void Write(Utf8JsonWriter json, DiagnosticsState state)
    {
        json.WriteStartObject();
        json.WriteNumber("schemaVersion", SchemaVersion);
        json.WriteString("generatedAt", state.GeneratedAt);
        json.WriteNumber("windowSeconds", ServiceTrafficWindow.Length);
        WriteIdentity(json, state);
        json.WriteStartArray("services");
        foreach (var service in state.Services)
        {
            WriteService(json, service, state);
        }

        json.WriteEndArray();
        json.WriteStartArray("events");
        foreach (var e in state.Events)
        {
            json.WriteStartObject();
            json.WriteNumber("id", e.Id);
            json.WriteString("time", e.Time);
            json.WriteString("kind", e.Kind);
            json.WriteString("service", e.Service);
            WriteStringOrNull(json, "endpoint", e.Endpoint);
            WriteStringOrNull(json, "source", e.Source);
            WriteStringOrNull(json, "previousState", e.PreviousState?.ToString());
            WriteStringOrNull(json, "state", e.State?.ToString());
            WriteStringOrNull(json, "reason", e.Reason);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteIdentity(Utf8JsonWriter json, DiagnosticsState state)
    {
        if (state.Identity is not { } identity)
        {
            json.WriteNull("identity");
            return;
        }

        var certificate = identity.Svid.Certificate;
        json.WriteStartObject("identity");
        json.WriteString("spiffeId", identity.Id.ToString());
        json.WriteString("trustDomain", identity.Id.TrustDomain);
        json.WriteString("serialNumber", certificate.SerialNumber);
        json.WriteString("notBefore", new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero));
        json.WriteString("notAfter", identity.Svid.NotAfter);
        json.WriteNumber("expiresInSeconds", Math.Round((identity.Svid.NotAfter - state.GeneratedAt).TotalSeconds));
        json.WriteStartArray("trustDomains");
        foreach (var domain in identity.Bundles.TrustDomains.Order(StringComparer.Ordinal))
        {
            json.WriteStringValue(domain);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteService(Utf8JsonWriter json, MeshServiceSnapshot service, DiagnosticsState state)
    {
        json.WriteStartObject();
        json.WriteString("name", service.Name);
        json.WriteString("loadBalancer", service.LoadBalancerName);
        json.WriteBoolean("panicMode", service.PanicMode);
        json.WriteNumber("endpointCount", service.Endpoints.Count);
        json.WriteNumber("availableEndpoints", service.AvailableCount);
        WriteStringOrNull(json, "discoveryProblem", service.DiscoveryProblem);
        json.WriteStartArray("discovery");
        foreach (var source in service.DiscoverySources)
        {
            json.WriteStartObject();
            json.WriteString("source", source.Name);
            WriteNumberOrNull(json, "endpointCount", source.EndpointCount);
            WriteStringOrNull(json, "problem", source.Problem);
            json.WriteNumber("failuresInARow", source.FailuresInARow);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        WriteServiceTraffic(json, state.ServiceTraffic.GetValueOrDefault(service.Name));

        long windowRequests = 0;
        foreach (var endpoint in service.Endpoints)
        {
            windowRequests += state.EndpointTraffic.GetValueOrDefault((service.Name, endpoint.Endpoint.Key)).Requests;
        }

        json.WriteStartArray("endpoints");
        foreach (var endpoint in service.Endpoints)
        {
            WriteEndpoint(json, service, endpoint, state, windowRequests);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteServiceTraffic(Utf8JsonWriter json, TrafficSummary? traffic)
    {
        json.WriteStartObject("traffic");
        var requests = traffic?.Requests ?? 0;
        var errors = traffic?.Errors ?? 0;
        json.WriteNumber("requests", requests);
        json.WriteNumber("errors", errors);
        json.WriteNumber("requestsPerSecond", traffic is null ? 0 : Round(requests / (double)traffic.Seconds, 2));
        json.WriteNumber("errorRate", requests == 0 ? 0 : Round(errors / (double)requests, 4));
        WriteNumberOrNull(json, "p50Ms", traffic?.P50 is { } p50 ? Round(p50 * 1000, 3) : null);
        WriteNumberOrNull(json, "p99Ms", traffic?.P99 is { } p99 ? Round(p99 * 1000, 3) : null);
        json.WriteStartArray("perSecond");
        foreach (var count in traffic?.PerSecond ?? new int[ServiceTrafficWindow.Length])
        {
            json.WriteNumberValue(count);
        }

        json.WriteEndArray();
        json.WriteStartArray("errorsPerSecond");
        foreach (var count in traffic?.ErrorsPerSecond ?? new int[ServiceTrafficWindow.Length])
        {
            json.WriteNumberValue(count);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteEndpoint(Utf8JsonWriter json, MeshServiceSnapshot service, MeshEndpointSnapshot endpoint, DiagnosticsState state, long windowRequests)
    {
        var key = (service.Name, endpoint.Endpoint.Key);
        json.WriteStartObject();
        json.WriteString("address", endpoint.Endpoint.Key);
        WriteStringOrNull(json, "zone", endpoint.Endpoint.Zone);
        json.WriteNumber("weight", endpoint.Endpoint.Weight);
        json.WriteNumber("weightFactor", Round(endpoint.WeightFactor, 4));
        json.WriteNumber("effectiveWeight", Round(endpoint.Endpoint.Weight * endpoint.WeightFactor, 4));
        json.WriteStartObject("metadata");
        foreach (var (name, value) in endpoint.Endpoint.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            json.WriteString(name, value);
        }

        json.WriteEndObject();
        json.WriteString("state", endpoint.Health.ToString());
        WriteStringOrNull(json, "reason", endpoint.Reason);
        if (endpoint.EjectedUntil is { } until)
        {
            json.WriteString("ejectedUntil", until);
        }
        else
        {
            json.WriteNull("ejectedUntil");
        }

        json.WriteNumber("inFlight", endpoint.InFlight);
        WriteNumberOrNull(json, "latencyEstimateMs", endpoint.RttEstimate is { } rtt ? Round(rtt.TotalMilliseconds, 3) : null);
        json.WriteNumber("lateShare", Round(endpoint.LateShare, 4));
        json.WriteNumber("requests", endpoint.Requests);
        json.WriteNumber("failures", endpoint.Failures);
        json.WriteNumber("ejections", state.Ejections.GetValueOrDefault(key));

        var traffic = state.EndpointTraffic.GetValueOrDefault(key);
        json.WriteStartObject("traffic");
        json.WriteNumber("requests", traffic.Requests);
        json.WriteNumber("errors", traffic.Failures);
        json.WriteNumber("requestsPerSecond", traffic.Seconds < 0.5 ? 0 : Round(traffic.Requests / traffic.Seconds, 2));
        json.WriteNumber("share", windowRequests == 0 ? 0 : Round(traffic.Requests / (double)windowRequests, 4));
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static double Round(double value, int digits) => double.IsFinite(value) ? Math.Round(value, digits) : 0;

    private static void WriteStringOrNull(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, int? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
