using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Mesh.Endpoints.Internal;
using Mesh.Http.Internal;
using Mesh.Services.Internal;

namespace Mesh.Health.Internal;

/// <summary>
/// Active health checks of one service: every <c>Interval</c> (shortened by up to 10% of jitter, so that clients
/// started together do not check in lock step) each endpoint is checked once, over the mesh transport (so mTLS
/// applies), with at most <c>MaxConcurrentHealthChecks</c> checks in flight across the process. An endpoint whose
/// previous check is still running (its <c>Timeout</c> may exceed the interval, as with Kubernetes probes and Envoy) is
/// checked again only after that check ended: never two checks of one endpoint at once, and a slow endpoint does not
/// delay the checks of the others. HTTP: a GET of
/// <c>Path</c>, 2xx is healthy. gRPC: the standard <c>grpc.health.v1.Health/Check</c> unary call, SERVING is healthy.
/// Stops when disposed (the registry disposes it when the service goes away or the host stops).
/// </summary>
internal sealed class ActiveHealthChecker : IAsyncDisposable
{
    private static readonly MediaTypeHeaderValue s_grpcContentType = new("application/grpc");
    private readonly ServiceRuntime _service;
    private readonly HealthCheckOptions _options;
    private readonly MeshTransport _transport;
    private readonly CheckThrottle _concurrency;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    public ActiveHealthChecker(ServiceRuntime service, HealthCheckOptions options, MeshTransport transport, CheckThrottle concurrency, TimeProvider time)
    {
        _service = service;
        _options = options;
        _transport = transport;
        _concurrency = concurrency;
        _time = time;
        _loop = Task.Run(RunAsync);
    }

    public HealthCheckOptions Options => _options;

    private async Task RunAsync()
    {
        var token = _stopping.Token;
        var running = new Dictionary<EndpointState, Task>(ReferenceEqualityComparer.Instance);
        try
        {
            while (!token.IsCancellationRequested)
            {
                foreach (var (endpoint, check) in running.Where(r => r.Value.IsCompleted).ToList())
                {
                    running.Remove(endpoint);
                }

                // Each endpoint on its own: a check still running when the next is due (a Timeout longer than the
                // Interval, a hung endpoint) delays that endpoint's next check — two checks of one endpoint never
                // overlap — and holds back no other endpoint's checks.
                foreach (var endpoint in _service.Endpoints)
                {
                    if (!running.ContainsKey(endpoint))
                    {
                        running[endpoint] = CheckAsync(endpoint, token);
                    }
                }

                var jitter = 1.0 - (System.Random.Shared.NextDouble() * 0.1);
                await Task.Delay(_options.Interval * jitter, _time, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopping: the checks in flight end at the same cancellation.
        }

        await Task.WhenAll(running.Values).ConfigureAwait(false);
    }

    private async Task CheckAsync(EndpointState endpoint, CancellationToken stopping)
    {
        var gate = _concurrency.Current;
        try
        {
            await gate.WaitAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // stopping before the check could start
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(_options.Timeout);
            bool healthy;
            string detail;
            try
            {
                (healthy, detail) = _options.Protocol == HealthCheckProtocol.Grpc
                    ? await CheckGrpcAsync(endpoint, timeout.Token).ConfigureAwait(false)
                    : await CheckHttpAsync(endpoint, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                (healthy, detail) = (false, $"no answer within {_options.Timeout}");
            }
            catch (Exception ex)
            {
                (healthy, detail) = (false, ex.InnerException is null ? ex.Message : $"{ex.Message} ({ex.InnerException.Message})");
            }

            _service.OnHealthCheck(endpoint, healthy, detail);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<(bool, string)> CheckHttpAsync(EndpointState endpoint, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint.Endpoint.Address, _options.Path));
        using var response = await _transport.SendAsync(request, endpoint, cancellationToken).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        return (status is >= 200 and < 300, $"GET {_options.Path} returned {status} {response.ReasonPhrase}");
    }

    private async Task<(bool, string)> CheckGrpcAsync(EndpointState endpoint, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint.Endpoint.Address, "/grpc.health.v1.Health/Check"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(EncodeRequest(_options.GrpcService)),
        };
        request.Content.Headers.ContentType = s_grpcContentType;
        request.Headers.TryAddWithoutValidation("TE", "trailers");
        using var response = await _transport.SendAsync(request, endpoint, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (false, $"gRPC health check returned HTTP {(int)response.StatusCode}");
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var grpcStatus = Header(response, "grpc-status");
        if (grpcStatus is not null && grpcStatus != "0")
        {
            return (false, $"gRPC health check failed with status {grpcStatus}: {Header(response, "grpc-message")}");
        }

        var serving = DecodeStatus(body);
        return serving switch
        {
            1 => (true, "SERVING"),
            2 => (false, "NOT_SERVING"),
            3 => (false, $"SERVICE_UNKNOWN ('{_options.GrpcService}')"),
            _ => (false, $"unexpected health status {serving}"),
        };
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.NonValidated.TryGetValues(name, out var trailer) ? trailer.ToString()
        : response.Headers.NonValidated.TryGetValues(name, out var header) ? header.ToString()
        : null;

    /// <summary>A length-prefixed gRPC message holding HealthCheckRequest { string service = 1; }.</summary>
    internal static byte[] EncodeRequest(string service)
    {
        var name = System.Text.Encoding.UTF8.GetBytes(service);
        var message = new List<byte>();
        if (name.Length > 0)
        {
            message.Add(0x0A); // field 1, length-delimited
            for (var len = (uint)name.Length; ; len >>= 7)
            {
                if (len < 0x80)
                {
                    message.Add((byte)len);
                    break;
                }

                message.Add((byte)((len & 0x7F) | 0x80));
            }

            message.AddRange(name);
        }

        var frame = new byte[5 + message.Count];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Count);
        message.CopyTo(frame, 5);
        return frame;
    }

    /// <summary>Reads HealthCheckResponse { ServingStatus status = 1; } from a length-prefixed gRPC message; -1 if absent.</summary>
    internal static int DecodeStatus(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 5)
        {
            return -1;
        }

        var length = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(frame[1..]), (uint)(frame.Length - 5));
        var message = frame.Slice(5, length);
        var status = 0; // proto3 default: UNKNOWN
        var i = 0;
        while (i < message.Length)
        {
            var tag = message[i++];
            var wireType = tag & 7;
            if (wireType == 0)
            {
                var value = 0;
                for (var shift = 0; i < message.Length; shift += 7)
                {
                    var b = message[i++];
                    value |= (b & 0x7F) << shift;
                    if (b < 0x80)
                    {
                        break;
                    }
                }

                if (tag >> 3 == 1)
                {
                    status = value;
                }
            }
            else if (wireType == 2)
            {
                var skip = 0;
                for (var shift = 0; i < message.Length && shift < 35; shift += 7)
                {
                    var b = message[i++];
                    skip |= (b & 0x7F) << shift;
                    if (b < 0x80)
                    {
                        break;
                    }
                }

                i += skip;
            }
            else
            {
                break;
            }
        }

        return status;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }
}
