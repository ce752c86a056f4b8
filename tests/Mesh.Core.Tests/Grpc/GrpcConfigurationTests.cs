using Mesh.Tests.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.Tests.GrpcTests;

/// <summary><c>OutlierDetection:GrpcStatusCodes</c> in the one configuration dialect: names only (C# or gRPC spelling),
/// any list form, <c>None</c> for none, every bad value named with its key at start-up.</summary>
public sealed class GrpcConfigurationTests
{
    private static string Service(string settings) =>
        $$"""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], {{settings}} } } } }""";

    private static async Task<GrpcStatusCodes> ReadAsync(string json)
    {
        using var app = new UserApp().WithJson(json);
        using var host = app.BuildWithMeshClient();
        await host.StartAsync(UserApp.Token);
        var codes = host.Services.GetRequiredService<IOptionsMonitor<MeshOptions>>().CurrentValue.Services["catalog"].OutlierDetection.GrpcStatusCodes;
        await host.StopAsync(UserApp.Token);
        return codes;
    }

    [Fact]
    public async Task The_default_is_what_Envoy_maps_to_5xx()
    {
        Assert.Equal(GrpcStatusCodes.Unknown | GrpcStatusCodes.DeadlineExceeded | GrpcStatusCodes.Unimplemented | GrpcStatusCodes.Internal |
            GrpcStatusCodes.Unavailable | GrpcStatusCodes.DataLoss, await ReadAsync(Service("\"LoadBalancer\": \"RoundRobin\"")));
        Assert.Equal(new OutlierDetectionOptions().GrpcStatusCodes, await ReadAsync(Service("\"LoadBalancer\": \"RoundRobin\"")));
    }

    [Theory]
    [InlineData("\"Unavailable, ResourceExhausted\"")]
    [InlineData("\"UNAVAILABLE|RESOURCE_EXHAUSTED\"")]
    [InlineData("[ \"unavailable\", \"Resource_Exhausted\" ]")]
    public async Task Names_in_any_list_form_and_either_spelling(string value)
    {
        Assert.Equal(GrpcStatusCodes.Unavailable | GrpcStatusCodes.ResourceExhausted,
            await ReadAsync(Service($$"""  "OutlierDetection": { "GrpcStatusCodes": {{value}} }  """)));
    }

    [Fact]
    public async Task None_turns_gRPC_statuses_off()
    {
        Assert.Equal(GrpcStatusCodes.None, await ReadAsync(Service("""  "OutlierDetection": { "GrpcStatusCodes": "None" }  """)));
    }

    [Fact]
    public async Task Numbers_unknown_names_and_OK_are_refused_each_with_its_key_at_once()
    {
        using var app = new UserApp().WithJson("""
            { "Mesh": { "Services": {
                "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], "OutlierDetection": { "GrpcStatusCodes": "UNAVAILABLE, 14, OK" } },
                "search": { "Endpoints": [ "http://127.0.0.1:5002" ], "OutlierDetection": { "GrpcStatusCodes": [ "Teapot" ], "ConsecutiveFailures": -1 } } } } }
            """);
        using var host = app.BuildWithMeshClient();
        var failures = (await UserApp.StartFailureAsync(host)).Failures.ToList();

        const string Allowed = "is not a gRPC status name; allowed values (comma-separated): None, Cancelled, Unknown, InvalidArgument, DeadlineExceeded";
        Assert.Contains(failures, f => f.StartsWith($"Mesh:Services:catalog:OutlierDetection:GrpcStatusCodes: '14' {Allowed}", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith($"Mesh:Services:catalog:OutlierDetection:GrpcStatusCodes: 'OK' {Allowed}", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith($"Mesh:Services:search:OutlierDetection:GrpcStatusCodes: 'Teapot' {Allowed}", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Mesh:Services:search:OutlierDetection:ConsecutiveFailures: -1 is out of range", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_value_set_in_code_that_is_no_status_is_refused()
    {
        using var app = new UserApp().WithJson(Service("\"LoadBalancer\": \"RoundRobin\""));
        using var host = app.BuildWithMeshClient(s => s.Configure<MeshOptions>(o => o.Services["catalog"].OutlierDetection.GrpcStatusCodes = (GrpcStatusCodes)1));
        var failures = (await UserApp.StartFailureAsync(host)).Failures;

        Assert.Contains(failures, f => f.StartsWith("Mesh:Services:catalog:OutlierDetection:GrpcStatusCodes: '1' holds a value that is not a gRPC status other than OK", StringComparison.Ordinal));
    }
}
