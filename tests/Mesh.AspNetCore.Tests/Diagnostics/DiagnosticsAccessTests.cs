using System.Net;
using Mesh.Authorization;
using Mesh.Diagnostics;
using Mesh.Diagnostics.Internal;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Diagnostics;

/// <summary>The diagnostics show topology and identities, so they are safe by default: loopback callers only unless the
/// app opts in, composable with <c>RequireAuthorization()</c>, options validated when mapped.</summary>
public sealed class DiagnosticsAccessTests
{
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.10.20.30", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("10.0.0.5", false)]
    [InlineData("192.168.1.20", false)]
    [InlineData("::ffff:10.0.0.5", false)]
    [InlineData("2001:db8::1", false)]
    public void Only_loopback_addresses_are_local(string address, bool local)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);

        Assert.Equal(local, MeshDiagnosticsEndpoints.IsLoopbackCaller(context));
    }

    [Theory]
    [InlineData("X-Forwarded-For", "203.0.113.7")]
    [InlineData("Forwarded", "for=203.0.113.7")]
    public void A_loopback_request_relayed_by_a_proxy_is_not_local(string header, string value)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Request.Headers[header] = value;

        Assert.False(MeshDiagnosticsEndpoints.IsLoopbackCaller(context));
    }

    [Fact]
    public void A_caller_without_an_address_is_not_local()
    {
        Assert.False(MeshDiagnosticsEndpoints.IsLoopbackCaller(new DefaultHttpContext()));
    }

    [Fact]
    public async Task A_request_through_a_proxy_on_this_machine_is_refused_by_default()
    {
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(replica);

        foreach (var path in new[] { "/mesh", "/mesh/ui", "/mesh/ui/app.js", "/mesh/ui/app.css" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("X-Forwarded-For", "203.0.113.7");
            using var response = await app.Http.SendAsync(request, TestContext.Current.CancellationToken);
            var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("Mesh:Diagnostics:AllowRemoteCallers", body, StringComparison.Ordinal);
            Assert.DoesNotContain(replica.Address.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AllowRemoteCallers_in_configuration_opens_the_endpoints()
    {
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(replica, extra: new() { ["Mesh:Diagnostics:AllowRemoteCallers"] = "true" });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/mesh");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");

        using var response = await app.Http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task RequireAuthorization_guards_every_diagnostics_endpoint()
    {
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: TestContext.Current.CancellationToken);
        await using var app = await DiagnosticsApp.StartAsync(builder =>
        {
            builder.Services.AddMeshClient();
            builder.Services.AddAuthentication(MeshAuthenticationDefaults.AuthenticationScheme).AddMesh();
            builder.Services.AddAuthorization();
        }, map: web =>
        {
            web.UseAuthentication();
            web.UseAuthorization();
            web.MapMeshDiagnostics().RequireAuthorization();
        }, settings: Settings(replica));

        foreach (var path in new[] { "/mesh", "/mesh/ui", "/mesh/ui/app.js", "/mesh/ui/app.css" })
        {
            // A loopback caller without a client certificate: the route's authorization answers, not the diagnostics.
            using var response = await app.Http.GetAsync(path, TestContext.Current.CancellationToken);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task The_page_and_its_assets_load_nothing_from_elsewhere()
    {
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(replica);

        using var page = await app.Http.GetAsync("/mesh/ui", TestContext.Current.CancellationToken);
        var html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var script = await app.Http.GetStringAsync("/mesh/ui/app.js", TestContext.Current.CancellationToken);
        var style = await app.Http.GetStringAsync("/mesh/ui/app.css", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Equal(MeshDiagnosticsEndpoints.ContentSecurityPolicy, page.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Contains("src=\"/mesh/ui/app.js\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"/mesh/ui/app.css\"", html, StringComparison.Ordinal);
        foreach (var text in new[] { html, script, style })
        {
            // The only absolute URL is the SVG namespace, which is a name, not a download.
            Assert.DoesNotContain("https://", text, StringComparison.OrdinalIgnoreCase);
            Assert.Empty(System.Text.RegularExpressions.Regex.Matches(text, "http://(?!www\\.w3\\.org/2000/svg)"));
            Assert.DoesNotContain("@import", text, StringComparison.Ordinal);
            Assert.DoesNotContain("@font-face", text, StringComparison.Ordinal);
            Assert.DoesNotContain("innerHTML", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_custom_pattern_moves_the_document_and_the_page()
    {
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: TestContext.Current.CancellationToken);
        await using var app = await DiagnosticsApp.StartAsync(builder => builder.Services.AddMeshClient(),
            map: web => web.MapMeshDiagnostics("/ops/mesh"), settings: Settings(replica));

        var document = await app.GetDocumentAsync("/ops/mesh");
        var html = await app.Http.GetStringAsync("/ops/mesh/ui/", TestContext.Current.CancellationToken);

        Assert.Equal("Healthy", document.State("catalog", replica.Address));
        Assert.Contains("content=\"/ops/mesh\"", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Http.GetAsync("/mesh", TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task An_event_capacity_out_of_range_is_refused_naming_the_key()
    {
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: TestContext.Current.CancellationToken);
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(Settings(replica)) { ["Mesh:Diagnostics:EventCapacity"] = "5" });
        builder.Services.AddMeshClient();
        await using var app = builder.Build();

        var error = Assert.Throws<OptionsValidationException>(() => app.MapMeshDiagnostics());

        Assert.Contains("Mesh:Diagnostics:EventCapacity: 5 is out of range; allowed: 10 to 10000.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_that_is_not_a_boolean_is_refused_naming_the_key()
    {
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: TestContext.Current.CancellationToken);
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(Settings(replica)) { ["Mesh:Diagnostics:AllowRemoteCallers"] = "yes" });
        builder.Services.AddMeshClient();
        await using var app = builder.Build();

        var error = Assert.Throws<OptionsValidationException>(() => app.MapMeshDiagnostics());

        Assert.Contains("Mesh:Diagnostics:AllowRemoteCallers: 'yes' is not valid; allowed values: true, false.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mapping_without_the_mesh_says_what_is_missing()
    {
        var builder = WebApplication.CreateBuilder();
        await using var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapMeshDiagnostics());

        Assert.Contains("AddMeshClient()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_options_default_to_loopback_only()
    {
        var options = new MeshDiagnosticsOptions();

        Assert.False(options.AllowRemoteCallers);
        Assert.Equal(200, options.EventCapacity);
    }

    private static Dictionary<string, string?> Settings(InProcessReplica replica) => new()
    {
        ["Mesh:Services:catalog:Endpoints:0:Address"] = replica.Address.ToString(),
    };

    private static Task<DiagnosticsApp> StartAsync(InProcessReplica replica, Dictionary<string, string?>? extra = null)
    {
        var settings = Settings(replica);
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return DiagnosticsApp.StartAsync(builder => builder.Services.AddMeshClient(), settings: settings);
    }
}
