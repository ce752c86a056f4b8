using System.Diagnostics;
using System.Net;
using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;
using Mesh.Telemetry.Internal;

namespace Mesh.Http.Internal;

/// <summary>
/// The content of a gRPC response whose status comes in the trailers after the replies (unary or streaming): it hands
/// out the transport's own response stream inside a thin <see cref="GrpcResponseStream"/> — no buffering, no copy — and
/// records the attempt's outcome once, when the call ends:
/// <list type="bullet">
/// <item>the stream reached its end: the <c>grpc-status</c> of the trailers (<see cref="HttpResponseMessage.TrailingHeaders"/>)
/// decides, as a trailers-only status would;</item>
/// <item>reading failed: the caller's cancellation (or a read after it disposed the response) is
/// <see cref="RequestOutcome.Abandoned"/>, anything else a broken stream (<see cref="RequestOutcome.ConnectionFailure"/>);</item>
/// <item>disposed before its end (the caller left a stream, or the call was cancelled): <see cref="RequestOutcome.Abandoned"/>,
/// neither a success nor a failure of the endpoint.</item>
/// </list>
/// Until then the call counts as in flight on its endpoint (LeastRequest, peak-EWMA's load factor); the latency sample
/// was taken at the response headers by the handler. A probe's slot is held until the end, when its outcome decides.
/// Per call this costs the wrapper, its header collection (the content headers are copied: one <c>content-type</c>),
/// the stream and the <c>Task</c> that hands it out; nothing else.
/// </summary>
internal sealed class GrpcResponseContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly HttpResponseMessage _response;
    private readonly ServiceRuntime _service;
    private readonly EndpointState _endpoint;
    private readonly bool _isProbe;
    private readonly double _headersSeconds;
    private readonly Activity? _span;
    private int _ended;

    private GrpcResponseContent(HttpResponseMessage response, ServiceRuntime service, EndpointState endpoint, bool isProbe, double headersSeconds, Activity? span)
    {
        _inner = response.Content;
        _response = response;
        _service = service;
        _endpoint = endpoint;
        _isProbe = isProbe;
        _headersSeconds = headersSeconds;
        _span = span;
        foreach (var header in _inner.Headers.NonValidated)
        {
            foreach (var value in header.Value)
            {
                Headers.TryAddWithoutValidation(header.Key, value);
            }
        }
    }

    /// <summary>Whether the call's outcome was recorded.</summary>
    public bool Ended => Volatile.Read(ref _ended) != 0;

    /// <summary>Replaces <paramref name="response"/>'s content with one that records the call's outcome when it ends.</summary>
    public static GrpcResponseContent Attach(HttpResponseMessage response, ServiceRuntime service, EndpointState endpoint, bool isProbe, double headersSeconds, Activity? span)
    {
        var content = new GrpcResponseContent(response, service, endpoint, isProbe, headersSeconds, span);
        response.Content = content;
        return content;
    }

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken)
    {
        var inner = _inner.ReadAsStreamAsync(cancellationToken);
        return inner.IsCompletedSuccessfully ? Task.FromResult<Stream>(new GrpcResponseStream(inner.Result, this)) : WrapAsync(inner);
    }

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => new GrpcResponseStream(_inner.ReadAsStream(cancellationToken), this);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        // Buffering or copying callers (HttpClient without ResponseHeadersRead, ReadAsByteArrayAsync): read through the
        // same wrapper, so the end is seen as well.
        await using var source = new GrpcResponseStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), this);
        await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            End(RequestOutcome.Abandoned, GrpcProtocol.NoStatus, null);
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>The stream returned 0 for a read of at least one byte: the trailers are in.</summary>
    internal void OnEndOfStream()
    {
        if (Ended)
        {
            return;
        }

        var trailers = _response.TrailingHeaders;
        if (GrpcProtocol.TryGetStatus(trailers, out var status))
        {
            var outcome = GrpcProtocol.Classify(status, _service.Options.OutlierDetection.GrpcStatusCodes);
            End(outcome, status, outcome == RequestOutcome.Success ? null : GrpcProtocol.Describe(status, trailers));
        }
        else
        {
            End(RequestOutcome.ServerError, GrpcProtocol.NoStatus, "gRPC response ended without grpc-status");
        }
    }

    /// <summary>The stream was disposed: before its end, the caller left the call.</summary>
    internal void OnStreamDisposed() => End(RequestOutcome.Abandoned, GrpcProtocol.NoStatus, null);

    /// <summary>A read failed.</summary>
    internal void OnReadFailed(Exception error, CancellationToken cancellationToken)
    {
        if (error is OperationCanceledException or ObjectDisposedException || cancellationToken.IsCancellationRequested)
        {
            End(RequestOutcome.Abandoned, GrpcProtocol.NoStatus, null);
        }
        else
        {
            End(RequestOutcome.ConnectionFailure, GrpcProtocol.NoStatus, $"the gRPC response stream broke: {error.Message}");
        }
    }

    private void End(RequestOutcome outcome, int status, string? failure)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        var service = _service;
        var settings = service.Settings;
        var env = service.Environment;
        _endpoint.OnCallEnd(env.Now(), settings.Picker.DecayTicks, RequestOutcomes.IsFailure(outcome), settings.Picker.DefaultRttTicks);
        service.OnOutcome(_endpoint, outcome, _isProbe, failure);
        env.Metrics.RecordAttempt(service, _endpoint, outcome, _headersSeconds, status);
        if (_span is not null)
        {
            MeshTracing.EnrichGrpcSpan(_span, service, outcome, status);
        }
    }

    private async Task<Stream> WrapAsync(Task<Stream> inner) => new GrpcResponseStream(await inner.ConfigureAwait(false), this);
}
