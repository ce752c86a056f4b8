using System.Globalization;
using System.Text.Json;
using Mesh.Identity;
using Mesh.Testing;
using Mesh.Testing.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Diagnostics;

/// <summary>
/// The JSON document of <c>MapMeshDiagnostics()</c> is a contract (docs/diagnostics.md): its field names, the strings of its
/// enums and event kinds are pinned here, for a real mesh with an ejected endpoint, panic mode and a workload identity.
/// A rename in C# must not change them; a new field must be added here and to the docs.
/// </summary>
public sealed class DiagnosticsJsonContractTests
{
    private static readonly string[] s_document = ["schemaVersion", "generatedAt", "windowSeconds", "identity", "services", "events"];
    private static readonly string[] s_identity = ["spiffeId", "trustDomain", "serialNumber", "notBefore", "notAfter", "expiresInSeconds", "trustDomains"];
    private static readonly string[] s_service = ["name", "loadBalancer", "panicMode", "endpointCount", "availableEndpoints", "discoveryProblem", "discovery", "traffic", "endpoints"];
    private static readonly string[] s_discovery = ["source", "endpointCount", "problem", "failuresInARow"];
    private static readonly string[] s_serviceTraffic = ["requests", "errors", "requestsPerSecond", "errorRate", "p50Ms", "p99Ms", "perSecond", "errorsPerSecond"];
    private static readonly string[] s_endpoint = ["address", "zone", "weight", "weightFactor", "effectiveWeight", "metadata", "state", "reason", "ejectedUntil",
        "inFlight", "latencyEstimateMs", "lateShare", "requests", "failures", "ejections", "traffic"];
    private static readonly string[] s_endpointTraffic = ["requests", "errors", "requestsPerSecond", "share"];
    private static readonly string[] s_event = ["id", "time", "kind", "service", "endpoint", "source", "previousState", "state", "reason"];
    private static readonly string[] s_states = ["Healthy", "SlowStart", "Probing", "Ejected", "Unhealthy"];
    private static readonly string[] s_kinds = ["Ejected", "Probing", "Returned", "Unhealthy", "PanicStarted", "PanicEnded", "DiscoveryFailed", "DiscoveryRecovered"];

    [Fact]
    public async Task The_document_has_the_documented_fields_and_enums_as_strings()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var r1 = await InProcessReplica.StartAsync("r1", cancellationToken: ct);
        await using var r2 = await InProcessReplica.StartAsync("r2", cancellationToken: ct);
        await using var r3 = await InProcessReplica.StartAsync("r3", cancellationToken: ct);
        using var ca = DevelopmentCertificateAuthority.Create("mesh.test");
        await using var app = await DiagnosticsApp.StartAsync(builder =>
        {
            builder.Services.AddMeshIdentity(ca.CreateIdentitySource("spiffe://mesh.test/storefront"));
            builder.Services.AddMeshClient();
            builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        }, settings: new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:catalog:PanicThreshold"] = "80",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "3",
            ["Mesh:Services:catalog:Endpoints:0:Address"] = r1.Address.ToString(),
            ["Mesh:Services:catalog:Endpoints:0:Weight"] = "2",
            ["Mesh:Services:catalog:Endpoints:0:Zone"] = "eu-1a",
            ["Mesh:Services:catalog:Endpoints:0:Metadata:version"] = "v1",
            ["Mesh:Services:catalog:Endpoints:1:Address"] = r2.Address.ToString(),
            ["Mesh:Services:catalog:Endpoints:2:Address"] = r3.Address.ToString(),
        });
        var client = app.MeshClient();
        for (var i = 0; i < 12; i++)
        {
            (await client.GetAsync("/", ct)).EnsureSuccessStatusCode();
        }

        // r3 dies: its failures eject it, and 2 of 3 available is under the panic threshold of 80%.
        await r3.StopAsync();
        var document = await app.WaitForDocumentAsync(
            d => d.State("catalog", r3.Address) == "Ejected" && d.Events("PanicStarted").Any(),
            "r3 ejected and panic mode", between: async () =>
            {
                try
                {
                    using var _ = await client.GetAsync("/", ct);
                }
                catch (HttpRequestException)
                {
                }
            });

        Assert.Equal(s_document, document.Names());
        Assert.Equal(1, document.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(60, document.GetProperty("windowSeconds").GetInt32());
        Assert.True(DateTimeOffset.TryParse(document.GetProperty("generatedAt").GetString(), CultureInfo.InvariantCulture, out _));

        var identity = document.GetProperty("identity");
        Assert.Equal(s_identity, identity.Names());
        Assert.Equal("spiffe://mesh.test/storefront", identity.GetProperty("spiffeId").GetString());
        Assert.Equal("mesh.test", identity.GetProperty("trustDomain").GetString());
        Assert.Equal("mesh.test", Assert.Single(identity.GetProperty("trustDomains").EnumerateArray()).GetString());
        Assert.InRange(identity.GetProperty("expiresInSeconds").GetDouble(), 1, double.MaxValue);
        Assert.True(DateTimeOffset.TryParse(identity.GetProperty("notAfter").GetString(), CultureInfo.InvariantCulture, out _));

        var service = document.Service("catalog");
        Assert.Equal(s_service, service.Names());
        Assert.Equal("RoundRobin", service.GetProperty("loadBalancer").GetString());
        Assert.True(service.GetProperty("panicMode").GetBoolean());
        Assert.Equal(3, service.GetProperty("endpointCount").GetInt32());
        Assert.Equal(2, service.GetProperty("availableEndpoints").GetInt32());
        Assert.Equal(JsonValueKind.Null, service.GetProperty("discoveryProblem").ValueKind);
        var source = Assert.Single(service.GetProperty("discovery").EnumerateArray());
        Assert.Equal(s_discovery, source.Names());
        Assert.Equal("Configuration", source.GetProperty("source").GetString());
        Assert.Equal(3, source.GetProperty("endpointCount").GetInt32());
        Assert.Equal(JsonValueKind.Null, source.GetProperty("problem").ValueKind);

        var traffic = service.GetProperty("traffic");
        Assert.Equal(s_serviceTraffic, traffic.Names());
        Assert.Equal(60, traffic.GetProperty("perSecond").GetArrayLength());
        Assert.Equal(60, traffic.GetProperty("errorsPerSecond").GetArrayLength());
        Assert.InRange(traffic.GetProperty("requests").GetInt64(), 15, long.MaxValue);
        Assert.InRange(traffic.GetProperty("errors").GetInt64(), 3, long.MaxValue);
        Assert.Equal(JsonValueKind.Number, traffic.GetProperty("p99Ms").ValueKind);

        foreach (var endpoint in service.GetProperty("endpoints").EnumerateArray())
        {
            Assert.Equal(s_endpoint, endpoint.Names());
            Assert.Equal(s_endpointTraffic, endpoint.GetProperty("traffic").Names());
            Assert.Contains(endpoint.GetProperty("state").GetString()!, s_states);
        }

        var first = service.Endpoint(r1.Address);
        Assert.Equal(2, first.GetProperty("weight").GetInt32());
        Assert.Equal("eu-1a", first.GetProperty("zone").GetString());
        Assert.Equal("v1", first.GetProperty("metadata").GetProperty("version").GetString());
        Assert.Equal(2.0, first.GetProperty("effectiveWeight").GetDouble());
        Assert.Equal("Healthy", first.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("reason").ValueKind);

        var ejected = service.Endpoint(r3.Address);
        Assert.Equal("Ejected", ejected.GetProperty("state").GetString());
        Assert.Contains("consecutive failures", ejected.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.True(DateTimeOffset.TryParse(ejected.GetProperty("ejectedUntil").GetString(), CultureInfo.InvariantCulture, out _));
        Assert.InRange(ejected.GetProperty("ejections").GetInt32(), 1, 100);
        Assert.InRange(ejected.GetProperty("failures").GetInt64(), 3, long.MaxValue);

        var events = document.GetProperty("events").EnumerateArray().ToList();
        Assert.All(events, e => Assert.Equal(s_event, e.Names()));
        Assert.All(events, e => Assert.Contains(e.GetProperty("kind").GetString()!, s_kinds));
        var ejections = document.Events("Ejected").ToList();
        Assert.Equal(ejected.GetProperty("ejections").GetInt32(), ejections.Count);
        var ejection = ejections[0];
        Assert.Equal("catalog", ejection.GetProperty("service").GetString());
        Assert.Equal(new MeshEndpoint(r3.Address).Key, ejection.GetProperty("endpoint").GetString());
        Assert.Equal("Healthy", ejection.GetProperty("previousState").GetString());
        Assert.Equal("Ejected", ejection.GetProperty("state").GetString());
        var panic = document.Events("PanicStarted").First();
        Assert.Equal(JsonValueKind.Null, panic.GetProperty("endpoint").ValueKind);
        Assert.Equal(JsonValueKind.Null, panic.GetProperty("state").ValueKind);
        Assert.True(events.Select(e => e.GetProperty("id").GetInt64()).SequenceEqual(events.Select(e => e.GetProperty("id").GetInt64()).Order()), "event ids are in order");
    }

    [Fact]
    public async Task Without_an_identity_the_identity_is_null()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var r1 = await InProcessReplica.StartAsync("r1", cancellationToken: ct);
        await using var app = await DiagnosticsApp.StartAsync(builder => builder.Services.AddMeshClient(), settings: new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:Endpoints:0:Address"] = r1.Address.ToString(),
        });

        var document = await app.GetDocumentAsync();

        Assert.Equal(JsonValueKind.Null, document.GetProperty("identity").ValueKind);
        Assert.Equal("PeakEwma", document.Service("catalog").GetProperty("loadBalancer").GetString());
        Assert.Equal("Healthy", document.State("catalog", r1.Address));
    }
}
