using Mesh.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Tests.Configuration;

/// <summary>
/// Every validation message names the section that was actually bound (issue #15, item 5): an app that keeps the mesh
/// under <c>Platform:Mesh</c> reads <c>Platform:Mesh:...</c> in its errors, never a <c>Mesh:...</c> key it does not have.
/// </summary>
public sealed class BoundSectionTests
{
    private const string Json = """
        {
          "Platform": {
            "Mesh": {
              "ConnectTimeout": "30",
              "Identity": { "CertificatePath": "certs/svid.pem", "TrustBundlePath": "certs/bundle.pem", "PollInterval": "5" },
              "Services": {
                "catalog": {
                  "LoadBalancer": "2",
                  "Endpoints": [ { "Address": "http://127.0.0.1:5001", "Weight": 0 }, "http://127.0.0.1:5002" ],
                  "HealthCheck": { "Path": "/healthz", "Interval": "5" },
                  "OutlierDetection": { "FailureKinds": "ServerError|4", "MaxEjectionPercent": 150 }
                }
              }
            }
          }
        }
        """;

    [Fact]
    public async Task Errors_under_a_custom_section_name_that_section_and_every_bad_key_at_once()
    {
        using var app = new UserApp().WithJson(Json);
        app.Builder.Services.AddMeshClient(app.Builder.Configuration.GetSection("Platform:Mesh"));
        app.Builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        using var host = app.Builder.Build();

        var error = await UserApp.StartFailureAsync(host);

        Assert.All(error.Failures, f => Assert.StartsWith("Platform:Mesh:", f, StringComparison.Ordinal));
        string[] expected =
        [
            "Platform:Mesh:ConnectTimeout: '30' is not a time span",
            "Platform:Mesh:Identity:PollInterval: '5' is not a time span",
            "Platform:Mesh:Identity:KeyPath",
            "Platform:Mesh:Services:catalog:LoadBalancer: '2' is not valid",
            "Platform:Mesh:Services:catalog:Endpoints:0:Weight: 0",
            "Platform:Mesh:Services:catalog:HealthCheck:Interval: '5' is not a time span",
            "Platform:Mesh:Services:catalog:OutlierDetection:FailureKinds: '4' is not valid",
            "Platform:Mesh:Services:catalog:OutlierDetection:MaxEjectionPercent: 150",
        ];
        foreach (var key in expected)
        {
            Assert.Contains(error.Failures, f => f.StartsWith(key, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_bad_weight_under_Platform_Mesh_names_Platform_Mesh()
    {
        using var app = new UserApp().WithJson("""
            { "Platform": { "Mesh": { "Services": { "catalog": { "Endpoints": [ { "Address": "http://127.0.0.1:5001", "Weight": 0 } ] } } } } }
            """);
        app.Builder.Services.AddMeshClient(app.Builder.Configuration.GetSection("Platform:Mesh"));
        using var host = app.Builder.Build();

        var error = await UserApp.StartFailureAsync(host);

        var failure = Assert.Single(error.Failures);
        Assert.StartsWith("Platform:Mesh:Services:catalog:Endpoints:0:Weight: 0 ", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddMeshIdentity_names_the_section_it_was_given()
    {
        using var app = new UserApp().WithJson("""
            { "Platform": { "Identity": { "CertificatePath": "certs/svid.pem", "PollInterval": "00:00:00.001" } } }
            """);
        app.Builder.Services.AddMeshIdentity(app.Builder.Configuration.GetSection("Platform:Identity"));
        using var host = app.Builder.Build();

        var error = await UserApp.StartFailureAsync(host);

        Assert.All(error.Failures, f => Assert.StartsWith("Platform:Identity:", f, StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Platform:Identity:KeyPath", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Platform:Identity:TrustBundlePath", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Platform:Identity:PollInterval", StringComparison.Ordinal));
    }
}
