using System.Globalization;
using Mesh;
using Mesh.Configuration.Internal;
using Mesh.Diagnostics;
using Mesh.Diagnostics.Internal;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the mesh's diagnostics: a JSON document of what the mesh sees and a live page over it.</summary>
public static class MeshDiagnosticsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the mesh's diagnostics under <paramref name="pattern"/>:
    /// <list type="bullet">
    /// <item><c>GET {pattern}</c>: a JSON document of every service — its endpoints with their state and reason, effective
    /// weight (slow start), requests in flight, latency estimate, failures and ejections, the traffic of the last minute
    /// (rate, errors, p50 and p99, each endpoint's share) —, its discovery sources and their problems, the workload's
    /// identity and its expiry, and a timeline of health events. docs/diagnostics.md describes every field.</item>
    /// <item><c>GET {pattern}/ui</c>: a live page over the same document (self-contained: no CDN, no external fonts or
    /// scripts), refreshed every second.</item>
    /// </list>
    /// Only loopback callers are answered unless <see cref="MeshDiagnosticsOptions.AllowRemoteCallers"/> is set; the
    /// returned builder applies conventions to every endpoint, so <c>RequireAuthorization()</c> guards them all.
    /// Options come from <c>Mesh:Diagnostics</c>, then <paramref name="configure"/>, and are validated here.
    /// The data is gathered from the mesh's own metrics and health events; the request path of the mesh pays nothing more.
    /// </summary>
    /// <param name="endpoints">The app's endpoint route builder (a <c>WebApplication</c>).</param>
    /// <param name="pattern">The path of the JSON document; the page is at <c>{pattern}/ui</c>. Default: <c>/mesh</c>.</param>
    /// <param name="configure">Changes the options after configuration binding.</param>
    /// <returns>A builder for conventions on all the diagnostics endpoints (<c>RequireAuthorization()</c>, <c>RequireHost()</c>...).</returns>
    /// <exception cref="InvalidOperationException">The mesh is not registered (<c>AddMeshClient()</c>).</exception>
    /// <exception cref="OptionsValidationException">An option is out of its allowed range.</exception>
    public static IEndpointConventionBuilder MapMeshDiagnostics(this IEndpointRouteBuilder endpoints, string pattern = "/mesh", Action<MeshDiagnosticsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        var services = endpoints.ServiceProvider;
        if (services.GetService<MeshMonitor>() is null)
        {
            throw new InvalidOperationException("MapMeshDiagnostics() shows the mesh of the app, but the app has none: call builder.Services.AddMeshClient() first.");
        }

        var options = ReadOptions(services, configure);
        var collector = MeshDiagnosticsCollector.For(services, options);
        var handlers = new MeshDiagnosticsEndpoints(collector, options, services.GetService<ILoggerFactory>());
        var group = endpoints.MapGroup(pattern);
        group.MapGet("", handlers.WriteDocumentAsync).WithDisplayName("Mesh diagnostics");
        group.MapGet("/ui", handlers.WritePageAsync).WithDisplayName("Mesh diagnostics page");
        group.MapGet("/ui/app.js", handlers.WriteScriptAsync).WithDisplayName("Mesh diagnostics page script");
        group.MapGet("/ui/app.css", handlers.WriteStyleAsync).WithDisplayName("Mesh diagnostics page style");
        return group;
    }

    private static MeshDiagnosticsOptions ReadOptions(IServiceProvider services, Action<MeshDiagnosticsOptions>? configure)
    {
        var options = new MeshDiagnosticsOptions();
        var errors = new List<string>();
        var mesh = MeshConfigurationSection.Find(services);
        var sectionPath = mesh is IConfigurationSection { Path.Length: > 0 } s ? $"{s.Path}:Diagnostics" : $"{MeshConfigurationSection.DefaultPath}:Diagnostics";
        if (mesh?.GetSection("Diagnostics") is { } section)
        {
            var reader = new ConfigurationReader(errors, rootPath: sectionPath);
            options.AllowRemoteCallers = reader.Boolean(section, nameof(MeshDiagnosticsOptions.AllowRemoteCallers)) ?? options.AllowRemoteCallers;
            options.EventCapacity = reader.Int32(section, nameof(MeshDiagnosticsOptions.EventCapacity)) ?? options.EventCapacity;
        }

        configure?.Invoke(options);
        if (options.EventCapacity is < MeshDiagnosticsOptions.MinEventCapacity or > MeshDiagnosticsOptions.MaxEventCapacity)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"{sectionPath}:EventCapacity: {options.EventCapacity} is out of range; allowed: {MeshDiagnosticsOptions.MinEventCapacity} to {MeshDiagnosticsOptions.MaxEventCapacity}."));
        }

        return errors.Count == 0 ? options : throw new OptionsValidationException(sectionPath, typeof(MeshDiagnosticsOptions), errors);
    }
}
