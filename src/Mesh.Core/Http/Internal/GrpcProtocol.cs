using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Mesh.Health.Internal;

namespace Mesh.Http.Internal;

/// <summary>What a response says about a gRPC call when its headers arrive.</summary>
internal enum GrpcResponseKind
{
    /// <summary>Not a gRPC response (or not one the mesh can read): judged by HTTP.</summary>
    NotGrpc,

    /// <summary>A trailers-only response: the status is in the headers and the call is over.</summary>
    TrailersOnly,

    /// <summary>Replies follow; the status comes in the trailers after them.</summary>
    Body,
}

/// <summary>
/// The parts of the gRPC protocol over HTTP/2 the mesh reads (<c>PROTOCOL-HTTP2.md</c> in grpc/grpc): the
/// <c>grpc-status</c> of a trailers-only response or of the trailers, the <c>application/grpc</c> content type, and the
/// retry header of gRPC's own retries and hedging (<c>grpc-previous-rpc-attempts</c>, gRFC A6). Header values are read
/// with <c>NonValidated</c>, which neither parses nor allocates.
/// </summary>
internal static class GrpcProtocol
{
    /// <summary>No status was received.</summary>
    public const int NoStatus = -1;

    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string PreviousAttemptsHeader = "grpc-previous-rpc-attempts";
    public const string RetryPushbackHeader = "grpc-retry-pushback-ms";
    public const string ContentType = "application/grpc";

    /// <summary>The canonical names, by code.</summary>
    private static readonly string[] s_names =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    /// <summary>The codes, boxed once (metric and span attribute values are objects).</summary>
    private static readonly object[] s_boxed = [.. Enumerable.Range(0, s_names.Length).Select(static i => (object)i)];

    /// <summary>The canonical name of a status code (<c>UNAVAILABLE</c>), or its number for an unknown code.</summary>
    public static string Name(int status) => (uint)status < (uint)s_names.Length ? s_names[status] : status.ToString(CultureInfo.InvariantCulture);

    /// <summary>A status code as an attribute value, without boxing for the known codes.</summary>
    public static object Boxed(int status) => (uint)status < (uint)s_boxed.Length ? s_boxed[status] : status;

    /// <summary>Whether a request may be a gRPC call: gRPC always POSTs.</summary>
    public static bool MayBeGrpc(HttpRequestMessage request) => request.Method == HttpMethod.Post;

    /// <summary>Whether a request is an attempt of gRPC's own retries or hedging after the first: grpc-dotnet sends
    /// <c>grpc-previous-rpc-attempts</c> on every attempt but the first of a call.</summary>
    public static bool IsRetryAttempt(HttpRequestMessage request) => request.Headers.NonValidated.Contains(PreviousAttemptsHeader);

    /// <summary>What the response headers say about a gRPC call.</summary>
    public static GrpcResponseKind Inspect(HttpResponseMessage response, out int status)
    {
        if (TryGetStatus(response.Headers, out status))
        {
            // grpc-dotnet honours grpc-status in the headers whatever the HTTP status and content type: so does the mesh.
            return GrpcResponseKind.TrailersOnly;
        }

        return response.StatusCode == HttpStatusCode.OK && IsGrpcContentType(response.Content.Headers) ? GrpcResponseKind.Body : GrpcResponseKind.NotGrpc;
    }

    /// <summary>Reads <c>grpc-status</c> from headers or trailers.</summary>
    public static bool TryGetStatus(HttpHeaders headers, out int status)
    {
        if (headers.NonValidated.TryGetValues(StatusHeader, out var values))
        {
            foreach (var value in values)
            {
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out status))
                {
                    status = (int)Code.Unknown; // a malformed status is no OK
                }

                return true;
            }
        }

        status = NoStatus;
        return false;
    }

    /// <summary>The outcome a status means for the endpoint: a listed status is a failure (<c>DEADLINE_EXCEEDED</c> a
    /// timeout, the others a server error); any other status is the application's answer.</summary>
    public static RequestOutcome Classify(int status, GrpcStatusCodes failures) =>
        status is > 0 and <= 16 && (failures & (GrpcStatusCodes)(1 << status)) != 0
            ? status == (int)Code.DeadlineExceeded ? RequestOutcome.Timeout : RequestOutcome.ServerError
            : RequestOutcome.Success;

    /// <summary>The failure text of a failing status, for reasons and logs (allocates; failures only).</summary>
    public static string Describe(int status, HttpHeaders headers)
    {
        var text = $"gRPC status {Name(status)}";
        if (headers.NonValidated.TryGetValues(MessageHeader, out var values))
        {
            foreach (var value in values)
            {
                if (value.Length > 0)
                {
                    var message = Uri.UnescapeDataString(value); // grpc-message is percent-encoded
                    return $"{text}: {(message.Length > 200 ? message[..200] + "..." : message)}";
                }
            }
        }

        return text;
    }

    /// <summary>A trailers-only <c>UNAVAILABLE</c> answer the mesh gives itself when it refuses to send an attempt (the
    /// retry budget is spent), with <c>grpc-retry-pushback-ms: -1</c>, which tells gRPC's retry policy to stop retrying
    /// the call (gRFC A6 "pushback").</summary>
    public static HttpResponseMessage Refusal(HttpRequestMessage request, string message)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK)
        {
            RequestMessage = request,
            Version = request.Version,
            Content = new ByteArrayContent([]),
        };
        response.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
        response.Headers.TryAddWithoutValidation(StatusHeader, ((int)Code.Unavailable).ToString(CultureInfo.InvariantCulture));
        response.Headers.TryAddWithoutValidation(MessageHeader, Uri.EscapeDataString(message));
        response.Headers.TryAddWithoutValidation(RetryPushbackHeader, "-1");
        return response;
    }

    private static bool IsGrpcContentType(HttpContentHeaders headers)
    {
        if (headers.NonValidated.TryGetValues("Content-Type", out var values))
        {
            foreach (var value in values)
            {
                // application/grpc, application/grpc+proto, application/grpc;...; not application/grpc-web (its trailers are in the body).
                return value.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase) &&
                    (value.Length == ContentType.Length || value[ContentType.Length] is '+' or ';');
            }
        }

        return false;
    }

    /// <summary>The codes the mesh names (the numbering of <c>Grpc.Core.StatusCode</c>).</summary>
    private enum Code
    {
        Unknown = 2,
        DeadlineExceeded = 4,
        Unavailable = 14,
    }
}
