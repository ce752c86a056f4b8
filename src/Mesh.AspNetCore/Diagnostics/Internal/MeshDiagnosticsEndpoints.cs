using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Diagnostics.Internal;

/// <summary>
/// The request handlers of <c>MapMeshDiagnostics()</c>: the JSON document, the live page and its script and style (embedded
/// in the assembly, no CDN). Each first checks the caller: loopback only unless <see cref="MeshDiagnosticsOptions.AllowRemoteCallers"/>.
/// </summary>
internal sealed partial class MeshDiagnosticsEndpoints(MeshDiagnosticsCollector collector, MeshDiagnosticsOptions options, ILoggerFactory? loggerFactory)
{
    /// <summary>The page's policy: its own script and style only, data fetched from its own origin, no frames.</summary>
    internal const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string BasePlaceholder = "{{base}}";
    private static readonly Lazy<string> s_page = new(() => Encoding.UTF8.GetString(ReadResource("index.html")));
    private static readonly Lazy<byte[]> s_script = new(() => ReadResource("app.js"));
    private static readonly Lazy<byte[]> s_style = new(() => ReadResource("app.css"));

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(MeshDiagnosticsCollector.LoggerCategory);

    public async Task WriteDocumentAsync(HttpContext context)
    {
        if (!await AdmitAsync(context).ConfigureAwait(false))
        {
            return;
        }

        var state = collector.Capture();
        var response = context.Response;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.Headers.XContentTypeOptions = "nosniff";
        var json = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { Indented = true });
        await using (json.ConfigureAwait(false))
        {
            DiagnosticsJsonWriter.Write(json, state);
            await json.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    public async Task WritePageAsync(HttpContext context)
    {
        if (!await AdmitAsync(context).ConfigureAwait(false))
        {
            return;
        }

        // The page's own address without "/ui" is the document's (whatever the app's path base and pattern are).
        var path = (context.Request.PathBase + context.Request.Path).Value?.TrimEnd('/') ?? "";
        var basePath = path.EndsWith("/ui", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        var html = s_page.Value.Replace(BasePlaceholder, HtmlEncoder.Default.Encode(basePath), StringComparison.Ordinal);
        SetPageHeaders(context.Response, "text/html; charset=utf-8");
        await context.Response.WriteAsync(html, context.RequestAborted).ConfigureAwait(false);
    }

    public Task WriteScriptAsync(HttpContext context) => WriteAssetAsync(context, s_script.Value, "text/javascript; charset=utf-8");

    public Task WriteStyleAsync(HttpContext context) => WriteAssetAsync(context, s_style.Value, "text/css; charset=utf-8");

    private async Task WriteAssetAsync(HttpContext context, byte[] content, string contentType)
    {
        if (!await AdmitAsync(context).ConfigureAwait(false))
        {
            return;
        }

        SetPageHeaders(context.Response, contentType);
        await context.Response.Body.WriteAsync(content, context.RequestAborted).ConfigureAwait(false);
    }

    private static void SetPageHeaders(HttpResponse response, string contentType)
    {
        response.ContentType = contentType;
        response.Headers.CacheControl = "no-store";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers["Referrer-Policy"] = "no-referrer";
    }

    /// <summary>Answers 403 to a caller that may not read the diagnostics; true when it may.</summary>
    private async Task<bool> AdmitAsync(HttpContext context)
    {
        if (options.AllowRemoteCallers || IsLoopbackCaller(context))
        {
            return true;
        }

        Log.RemoteCallerRefused(_logger, context.Connection.RemoteIpAddress?.ToString() ?? "an unknown address", context.Request.Path.Value ?? "");
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(
            "The mesh diagnostics answer callers on this machine only (loopback, not through a proxy). To open them to other callers, set Mesh:Diagnostics:AllowRemoteCallers to true and guard them, for example with RequireAuthorization().",
            context.RequestAborted).ConfigureAwait(false);
        return false;
    }

    /// <summary>Whether the request comes from this machine: from a loopback address (127.0.0.0/8, ::1, or IPv4 loopback
    /// mapped to IPv6) and not relayed by a proxy (no <c>Forwarded</c> or <c>X-Forwarded-For</c> header: a proxy on this
    /// machine would otherwise make every caller look local). A connection without an IP address (an in-memory test server)
    /// is not known to be local.</summary>
    internal static bool IsLoopbackCaller(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (remote is null)
        {
            return false;
        }

        if (remote.IsIPv4MappedToIPv6)
        {
            remote = remote.MapToIPv4();
        }

        return IPAddress.IsLoopback(remote) &&
            !context.Request.Headers.ContainsKey("Forwarded") && !context.Request.Headers.ContainsKey("X-Forwarded-For");
    }

    private static byte[] ReadResource(string name)
    {
        var resource = $"Mesh.Diagnostics.Page.{name}";
        using var stream = typeof(MeshDiagnosticsEndpoints).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The embedded resource {resource} is missing from {typeof(MeshDiagnosticsEndpoints).Assembly.GetName().Name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5040, EventName = "DiagnosticsCallerRefused", Level = LogLevel.Debug,
            Message = "Mesh diagnostics: refused {RemoteAddress} on {Path}: only loopback callers are answered (Mesh:Diagnostics:AllowRemoteCallers)")]
        public static partial void RemoteCallerRefused(ILogger logger, string remoteAddress, string path);
    }
}
